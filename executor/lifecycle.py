"""A request's life between steps of a real run, mixed into `Executor`: it
produces a token (compared with the full model's), finishes, grows its KV
pages, or is preempted by the shared policy (vLLM's recompute), as in the
simulator's `lifecycle.py`.
"""

from __future__ import annotations

import numpy as np

from policies.routers.features import step_confidence


class Lifecycle:
    def _lm_head_and_emit(self, ids: list[int], h, from_prefill: list[bool]) -> None:
        t0 = self.now()
        logits = self.runner.logits(h)
        toks = logits.argmax(-1).tolist()
        # context routers read this step's softmax confidence at the next (timed
        # here: it is a reading of the LM head's output; prefill emits are not
        # read, as calibration records none for a first decode step)
        if self.context is not None:
            rows = [m for m, pre in enumerate(from_prefill) if not pre]
            if rows:
                logp = self.torch.log_softmax(logits[self._idx(rows)].float(), -1)
                self.context.record_step([ids[m] for m in rows],
                                         step_confidence(logp).cpu().numpy())
        self._sync()
        self.log.add(self.steps, "lm_head", self.k, t0, self.now(), len(ids), len(ids), 0, 0,
                     self.cost.lm_head_time_s(len(ids)))
        for i, tok, pre in zip(ids, toks, from_prefill):
            self._emit(i, tok, pre)

    def _emit(self, i: int, tok: int, from_prefill: bool) -> None:
        """Request i produced its next output token `tok` now."""
        t, now = self.t, self.now()
        g = t.generated[i]
        assert len(self.tokens[i]) == g, "a token was produced twice"
        self.tokens[i].append(tok)
        t.agree_sum[i] += float(tok == self.refs[i][g])
        t.generated[i] = g = g + 1
        t.ctx[i] += 1
        if from_prefill:
            if np.isnan(t.first_token_s[i]):
                t.first_token_s[i] = now
            if g > 1:  # a recompute after preemption: a later token, full depth
                t.layers_executed[i] += self.L
        else:
            s = t.pass_skipped[i]
            t.layers_executed[i] += self.L - s
            t.layers_skipped[i] += s
        t.pass_skipped[i] = 0
        if g >= t.output[i]:
            self._complete(i, now)
            return
        if self._grow(i):
            t.queues[0][i] = 1

    def _complete(self, i: int, now: float) -> None:
        t = self.t
        t.finish_s[i] = now
        t.running[i], t.done[i] = False, True
        self.runner.free(i)
        self._forget_context(i)
        self.running -= 1
        self.finished += 1
        if self.progress is not None:
            self.progress.update(1)

    def _grow(self, i: int) -> bool:
        """Pages for request i's next token, evicting the preemption policy's
        victims among the runnable requests (itself included) until it fits:
        the simulator's call. False when i itself was preempted."""
        t = self.t
        # runnable: requests waiting in a queue (not in flight), and i itself
        return self.preemption.make_room(_RunnerPages(self.runner), i, int(t.ctx[i]), self.now(),
                                         lambda: [v for q in t.queues for v in q], t.admit_seq,
                                         self._preempt)

    def _preempt(self, v: int) -> None:
        self.prefill_h.pop(v, None)  # a prefill between blocks starts over
        self.runner.free(v)
        self._forget_context(v)
        self.t.preempt(v)
        self.running -= 1

    def _forget_context(self, i: int) -> None:
        """Drop request i's routing context (finished, or preempted: a recompute
        starts it over as at a first decode step; the step still counts from the
        token index)."""
        if self.context is not None:
            self.context.drop(i)


class _RunnerPages:
    """`make_room`'s view of the runner's pages (the runner keeps its own clock)."""

    def __init__(self, runner):
        self.runner = runner

    def allocate(self, rid: int, tokens: int, now_s: float) -> bool:
        return self.runner.allocate(rid, tokens)
