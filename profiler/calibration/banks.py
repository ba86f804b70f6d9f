"""From recordings and counterfactual labels to one set of examples per checkpoint.

Each decode token of each prompt becomes one bank entry at every router
checkpoint: key h_{b_i}, saturation features, the safety of every candidate
landing and the residual deltas h_{b_j} - h_{b_i} of the skipped blocks.
Prefill tokens are recorded (flagged) but carry no counterfactual label, so
they never enter a bank: a bank value must be a decision found safe.
"""

from __future__ import annotations

import numpy as np
import torch

from policies.checkpoint_plan import CheckpointPlan
from policies.routers.base import SkipExamples
from policies.routers.features import (
    CONTEXT_FEATURES,
    context_features,
    previous_steps,
    sequence_running,
    step_confidence,
)
from profiler.calibration.counterfactual import PromptLabels
from profiler.calibration.recording import PromptRecording


def build_examples(plan: CheckpointPlan, recs: list[PromptRecording],
                   labels: list[PromptLabels], confidences: list[np.ndarray],
                   groups: list[int] | None = None) -> dict[int, SkipExamples]:
    """`confidences`: per recording, `step_confidences` (the previous step's is a
    context feature)."""
    groups = groups if groups is not None else list(range(len(recs)))
    out = {}
    for i in plan.router_checkpoints:
        b = plan.boundaries[i]
        landings = labels[0].landings[i]
        keys, prev_cos, ent, safe, deltas, group, context, margin = ([] for _ in range(8))
        for rec, lab, conf, g in zip(recs, labels, confidences, groups):
            if rec.num_decode == 0:
                continue
            h = rec.states[:, b].float()
            h1, h2 = rec.states[:, b - 1].float(), rec.states[:, max(b - 2, 0)].float()
            keys.append(h)
            cos = torch.nn.functional.cosine_similarity(h1, h, dim=-1)
            prev_cos.append(cos)
            context.append(torch.from_numpy(context_features(
                h.numpy(), h1.numpy(), h2.numpy(), np.arange(1, rec.num_decode + 1),
                *sequence_running(cos.numpy()), previous_steps(conf))))
            ent.append(lab.exit_entropy[i])
            margin.append(lab.exit_margin[i] if lab.exit_margin is not None
                          else torch.full((rec.num_decode,), float("nan")))
            safe.append(lab.safe[i])
            # float16, as the compact recordings' states: [N, m, d] at every checkpoint
            # is the largest array of a calibration run (2.4 GB at 31k tokens in float32)
            deltas.append(torch.stack([rec.states[:, plan.boundaries[j]].float() - h
                                       if j < plan.num_blocks
                                       else torch.zeros_like(h) for j in landings], 1).half())
            group.append(torch.full((rec.num_decode,), g))
        cat = lambda xs: torch.cat(xs).numpy() if xs else np.zeros(0)  # noqa: E731
        out[i] = SkipExamples(
            at=i, landings=tuple(landings),
            keys=cat(keys).astype(np.float32).reshape(-1, plan_dim(recs)),
            prev_cos=cat(prev_cos), exit_entropy=cat(ent),
            safe=cat(safe).astype(bool).reshape(-1, len(landings)),
            deltas=cat(deltas).astype(np.float16).reshape(-1, len(landings), plan_dim(recs)),
            group=cat(group).astype(np.int64),
            context=cat(context).astype(np.float32).reshape(-1, len(CONTEXT_FEATURES)),
            exit_margin=cat(margin).astype(np.float64))
    return out


@torch.no_grad()
def step_confidences(lm, recs: list[PromptRecording]) -> list[np.ndarray]:
    """Per recording, [T, STEP_CONFIDENCE]: `step_confidence` of the full model's
    final softmax at each decode step, from the recorded last-layer states (the
    LM head on h_L, one prompt at a time: [T, V] logits, not [N, V])."""
    out = []
    for rec in recs:
        logp = torch.log_softmax(lm.logits(rec.states[:, lm.num_layers].float()), -1)
        out.append(step_confidence(logp).numpy())
    return out


def plan_dim(recs: list[PromptRecording]) -> int:
    return recs[0].states.shape[-1]


def take_fraction(examples: SkipExamples, fraction: float,
                  rng: np.random.Generator) -> SkipExamples:
    """A random bank of `fraction` of the entries (for the bank-size sweep)."""
    n = max(1, int(round(len(examples) * fraction)))
    return examples.subset(np.sort(rng.choice(len(examples), size=n, replace=False)))
