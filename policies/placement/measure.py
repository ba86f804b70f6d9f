"""PlanInputs from measurements: a cost model, a SkipProfile, a workload, a memory size.

Times come from the cost model the simulator would use (`auto`, measured,
roofline or a profile path), as per-token prices at the operating batch B:
a block, a lookup, a K/V projection or the LM head priced as the secant of
the cost model between batch 1 and batch B (exact at both; `inputs.py`
says how a step's fixed part is shared by the tokens of its group),
with every decode token at the trace's token-weighted decode context
(`Workload.from_trace`), plus what other requests' prefills add to a round
(`prefill.py`). Skip statistics come from the SkipProfile: every calibrated target
with the full calibration bank, and (with `bank_sweep`) the bank-size sweep
as "bank:F" with F × the bank's entries. The sweep's thresholds are
calibrated offline at the profile's own target (`calibration/pipeline.py`),
and offline thresholds overshoot live (0.974 live agreement at an offline
0.99 in smollm2-48x16), so `simulate plan` offers those points only with
`--bank-sweep`; options
that behave identically keep only the cheapest; the probability that a skip
changes the token is scaled by the KV-hole policy's measured factor. A model
the profile was not measured on (the analytic Llama what-ifs) gets the
statistics transferred by relative depth: profile layer p becomes
round(p · L / L_profile), landings likewise, and every output says so.

Memory, as `policies/memory_split.py`: a bank entry is a float32 key of
hidden_size values plus 8 bytes; the banks' budget is what is left of GPU
memory after the weights and the KV cache of B requests of the workload's
mean length (prompt + output). If even no bank leaves room for B requests,
the plan is priced at the largest batch that fits, and the note says so.
On N GPUs (pipeline stages) the memory is N × one GPU's, pooled
(`stages.py` states the approximation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from policies.placement.inputs import Affine, PlanInputs, RouterOption
from policies.placement.prefill import prefill_share_s_per_token
from policies.placement.stages import kv_bytes_per_request
from profiler.calibration.skip_profile import CheckpointProfile, SkipProfile
from profiler.cost_model import BatchShape, CostModel
from skipsim.errors import UserError
from skipsim.model_spec import GIB, ModelSpec

BANK_ENTRY_OVERHEAD_BYTES = 8  # SimConfig.bank_entry_overhead_bytes: decision + id


PROMPT_POINTS = 64  # prompt lengths kept for E_p[prefill delta]: quantile midpoints past this


@dataclass(frozen=True)
class Workload:
    mean_prompt_tokens: float
    mean_output_tokens: float
    request_rate_per_s: float | None  # None: all at once (the batch is the largest that fits)
    # the context a decode token attends over, token-weighted (`from_trace`); None: the
    # mean request's, mean prompt + mean output / 2
    decode_context_tokens: float | None = None
    # (prompt length, probability) of the trace's prompts; (): the mean prompt alone
    prompts: tuple[tuple[int, float], ...] = ()
    num_requests: int | None = None  # the trace's; None: unbounded

    @classmethod
    def from_trace(cls, prompt_tokens, output_tokens, rate_per_s: float | None) -> Workload:
        """The trace's means, its token-weighted decode context and its prompt lengths.

        Decode pass k = 1 .. o - 1 of a request with prompt p attends over p + k
        tokens (`simulator/state.py`'s ctx: prompt + generated), so its passes sum to
        (o - 1)(p + o/2), and over the trace a decode token's mean context is

            sum_i (o_i - 1)(p_i + o_i / 2) / sum_i (o_i - 1)   [tokens]:

        a long request has more decode tokens and larger contexts, so on a heavy-tailed
        trace this exceeds the mean request's p + o/2 (ShareGPT, 200 prompts: 357.8
        against 341.8; the simulator's decode steps, token-weighted, saw 357.8).
        A round's batch holds requests in proportion to their decode tokens, so this is
        also the mean context of a batch member at a random time."""
        p = np.asarray(prompt_tokens, float)
        o = np.asarray(output_tokens, float)
        passes = np.maximum(o - 1, 0)
        ctx = (float(np.sum(passes * (p + o / 2)) / passes.sum()) if passes.sum() > 0
               else None)
        return cls(float(p.mean()), float(o.mean()), rate_per_s, ctx, prompt_points(p), len(p))

    @property
    def decode_context(self) -> int:
        if self.decode_context_tokens is not None:
            return max(1, round(self.decode_context_tokens))
        return max(1, round(self.mean_prompt_tokens + self.mean_output_tokens / 2))

    @property
    def prompt_weights(self) -> tuple[tuple[int, float], ...]:
        return self.prompts or ((max(1, round(self.mean_prompt_tokens)), 1.0),)

    @property
    def tokens_per_request(self) -> float:
        return self.mean_prompt_tokens + self.mean_output_tokens


def prompt_points(prompt_tokens) -> tuple[tuple[int, float], ...]:
    """(length, probability) of the distinct prompt lengths; past PROMPT_POINTS
    distinct ones, the midpoints of PROMPT_POINTS equal-probability quantile bins."""
    p = np.asarray(prompt_tokens, float)
    if not len(p):
        return ()
    values, counts = np.unique(np.maximum(1, np.round(p)).astype(int), return_counts=True)
    if len(values) <= PROMPT_POINTS:
        return tuple((int(v), float(c / len(p))) for v, c in zip(values, counts))
    mids = np.quantile(p, (np.arange(PROMPT_POINTS) + 0.5) / PROMPT_POINTS)
    return tuple((max(1, int(round(m))), 1.0 / PROMPT_POINTS) for m in mids)


def transferred_profile(profile: SkipProfile, spec: ModelSpec, source: str) -> SkipProfile:
    """The profile's checkpoints moved to `spec`'s layers by relative depth."""
    L, Lp = spec.num_layers, profile.num_layers
    at = lambda p: L if p >= Lp else max(1, min(L - 1, round(p * L / Lp)))  # noqa: E731
    cps = [replace(c, layer=at(c.layer), landing_layers=[at(x) for x in c.landing_layers])
           for c in profile.checkpoints]
    bounds = sorted({0, L, *(c.layer for c in cps)})
    return replace(profile, model=spec.name, num_layers=L, boundaries=bounds, checkpoints=cps,
                   config={**profile.config, "transferred_from": source,
                           "transferred_from_model": profile.model})


def transfer_note(profile: SkipProfile) -> str:
    src = profile.config.get("transferred_from")
    if not src:
        return ""
    return (f"skip statistics TRANSFERRED from {profile.config['transferred_from_model']} "
            f"({src}) by relative depth: no calibration of {profile.model} exists")


def secant(call, batch: int) -> Affine:
    """fixed + per_token × n through the cost model's times at n = 1 and n = B."""
    t1 = call(1)
    if batch == 1:
        return Affine(t1, 0.0)
    per = max(0.0, (call(batch) - t1) / (batch - 1))
    return Affine(max(0.0, t1 - per), per)


def router_options(cp: CheckpointProfile, profile: SkipProfile, full_entries: int,
                   cost: CostModel, batch: int, p_scale: float,
                   bank_sweep: bool = True, aliases: dict | None = None
                   ) -> tuple[RouterOption, ...]:
    """The distinct options at one checkpoint; `aliases` gets (layer, dropped key) ->
    the key of the identical option kept."""
    stats = [(k, s, full_entries) for k, s in cp.by_target.items()]
    if bank_sweep:
        stats += [(f"bank:{f}", s, max(1, round(float(f) * full_entries)))
                  for f, s in cp.by_bank_fraction.items()]
    best: dict = {}
    members: dict = {}
    for key, s, entries in stats:
        hit = s.hit_prob if sum(s.landing_probs) > 0 else 0.0
        lands = tuple((land, p) for land, p in zip(cp.landing_layers, s.landing_probs) if p > 0)
        err = min(1.0, s.error_prob * p_scale) if hit > 0 else 0.0
        opt = RouterOption(key, hit, err, lands if hit > 0 else (), entries,
                           secant(lambda q, e=entries: cost.lookup_time_s(e, q), batch))
        # identical behaviour: keep the cheapest
        same = (opt.hit_prob, opt.error_prob, opt.landings)
        old = best.get(same)
        members.setdefault(same, []).append(key)
        if old is None or ((opt.bank_entries, opt.lookup.fixed_s)
                           < (old.bank_entries, old.lookup.fixed_s)):
            best[same] = opt
    if aliases is not None:
        for same, keys in members.items():
            aliases.update({(cp.layer, k): best[same].key for k in keys})
    return tuple(sorted(best.values(), key=lambda o: o.key))


def kv_budget(spec: ModelSpec, gpu_memory_bytes: float, workload: Workload,
              batch: int, num_gpus: int = 1) -> tuple[int, float, str]:
    """(batch priced, bank budget in bytes, note): the KV cache keeps room for the
    batch; `gpu_memory_bytes` is one GPU's, pooled over `num_gpus` stages."""
    per_request = kv_bytes_per_request(spec, workload.tokens_per_request)
    free = num_gpus * gpu_memory_bytes - spec.weight_bytes
    fits = int(free // per_request) if free > 0 else 0
    if fits < 1:
        where = ("GPU memory" if num_gpus == 1 else
                 f"GPU memory on each of {num_gpus} GPUs ({num_gpus * gpu_memory_bytes / GIB:.2f}"
                 " GiB in all)")
        raise UserError(f"weights ({spec.weight_bytes / GIB:.2f} GiB) + the KV cache of one "
                        f"request ({per_request / GIB:.3f} GiB) exceed the "
                        f"{gpu_memory_bytes / GIB:.2f} GiB of {where}: raise --num-gpus "
                        "or --gpu-memory")
    note = ""
    if fits < batch:
        note = (f"the KV cache holds only {fits} requests of the workload's mean length, not "
                f"the operating batch {batch}: priced at batch {fits}")
        batch = fits
    return batch, free - batch * per_request, note


def build_inputs(spec: ModelSpec, cost: CostModel, profile: SkipProfile, workload: Workload,
                 batch: int, gpu_memory_bytes: float, min_agreement: float,
                 kv_policy: str = "project", p_scale: float = 1.0,
                 contexts: tuple[int, ...] | None = None, labels: dict | None = None,
                 bank_sweep: bool = False, prefill_share: bool = True,
                 num_gpus: int = 1) -> PlanInputs:
    """`prefill_share`: add what the other requests' prefills add to a decode round,
    per token (`prefill.py`: their marginal time in the round they join, (B - 1) /
    output of them a round; plan-independent: prefill never skips).
    `num_gpus` pipeline stages pool their memory; the time per token is the sum
    over blocks whatever the stages (`stages.py`)."""
    if profile.num_layers != spec.num_layers:
        raise UserError(f"the skip profile has {profile.num_layers} layers, "
                        f"{spec.name} has {spec.num_layers}")
    batch, budget, note = kv_budget(spec, gpu_memory_bytes, workload, batch, num_gpus)
    ctxs = contexts or (workload.decode_context,)
    layer = Affine(*_avg_affine([secant(lambda n, c=c: cost.block_time_s(
        1, BatchShape((), (c,) * n)), batch) for c in ctxs]))
    kv = (secant(lambda n: cost.kv_projection_time_s(n, 1), batch) if kv_policy == "project"
          else Affine(0.0, 0.0))
    head = secant(cost.lm_head_time_s, batch)
    prefill = (prefill_share_s_per_token(cost, spec.num_layers, workload.prompt_weights,
                                         workload.mean_output_tokens, batch, ctxs[0])
               if prefill_share else 0.0)
    full_entries = int(profile.config.get("calibration_tokens") or 1000)
    aliases: dict = {}
    options = {cp.layer: router_options(cp, profile, full_entries, cost, batch, p_scale,
                                        bank_sweep, aliases)
               for cp in profile.checkpoints if 0 < cp.layer < spec.num_layers}
    fallback = RouterOption("unmeasured", 0.0, 0.0, (), full_entries,
                            secant(lambda q: cost.lookup_time_s(full_entries, q), batch))
    info = {"cost_model": cost.label, "batch": batch, "memory_note": note,
            "transfer_note": transfer_note(profile),
            "gpu_memory_bytes": gpu_memory_bytes, "num_gpus": num_gpus,
            "weight_bytes": spec.weight_bytes,
            "kv_bytes_per_request": kv_bytes_per_request(spec, workload.tokens_per_request),
            "decode_context": ctxs if len(ctxs) < 4 else f"{len(ctxs)} contexts",
            "prefill_s_per_token": prefill,
            **(labels or {})}
    return PlanInputs(
        model=spec.name, num_layers=spec.num_layers, candidates=tuple(sorted(options)),
        options=options, layer=layer, step_overhead_s=cost.step_overhead_s, kv_projection=kv,
        head_s=prefill, lm_head=head, batch=batch,
        entry_bytes=spec.hidden_size * 4 + BANK_ENTRY_OVERHEAD_BYTES,
        bank_budget_bytes=budget, min_agreement=min_agreement, fallback=fallback, labels=info,
        aliases=aliases)


def _avg_affine(parts: list[Affine]) -> tuple[float, float]:
    n = len(parts)
    return sum(p.fixed_s for p in parts) / n, sum(p.per_token_s for p in parts) / n


def _spec_name(model: str) -> str:
    from skipsim.model_spec import model_spec

    try:
        return model_spec(model).name
    except UserError:
        return model


def load_profile(path: str | Path | None, spec: ModelSpec) -> tuple[SkipProfile, str]:
    """(the profile for `spec`, its label); transferred by depth when it is another model's."""
    from simulator.skip_models.measured import PLAN_PROFILE

    p = Path(path) if path else PLAN_PROFILE
    profile = SkipProfile.load(p)
    if profile.num_layers != spec.num_layers or _spec_name(profile.model) != spec.name:
        profile = transferred_profile(profile, spec, str(p))
    return profile, str(p)
