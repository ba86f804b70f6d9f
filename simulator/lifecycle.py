"""A request's life between steps: it produces a token, finishes, grows its
KV cache, or is preempted (vLLM's recompute: it gives back all its KV and
later re-prefills prompt + generated tokens). Mixed into `Engine`, whose
state (`t`, `kv`, `env`, counters) these methods update.
"""

from __future__ import annotations

import numpy as np


class RequestLifecycle:
    def _emit(self, ids: np.ndarray, from_prefill: bool) -> None:
        """Each request of `ids` produced one output token now."""
        t, now = self.t, self.env.now
        t.generated[ids] += 1
        t.ctx[ids] += 1
        if from_prefill:
            first = np.isnan(t.first_token_s[ids])
            t.first_token_s[ids[first]] = now
            t.agree_sum[ids] += 1.0  # prefill runs full depth
            # a recompute after preemption yields a later token at full depth
            t.layers_executed[ids[t.generated[ids] > 1]] += self.plan.num_layers
        else:
            t.agree_sum[ids] += t.pass_agree[ids]
            t.layers_executed[ids] += t.pass_layers[ids]
            t.layers_skipped[ids] += t.pass_skipped[ids]
        complete = t.generated[ids] >= t.output[ids]
        if np.count_nonzero(complete):
            for i in ids[complete].tolist():
                self._complete(i)
            ids = ids[~complete]
            if len(ids) == 0:
                return
        extra = -(-t.ctx[ids] // self.kv.block_tokens) - self.kv.held[ids]
        if int(extra.sum()) <= self.kv.free_blocks:
            self.kv.grow_many(ids, extra, now)
        else:
            for i in ids[extra > 0].tolist():
                if t.running[i]:
                    self._grow(i)
            ids = ids[t.running[ids]]
        t.start_decode_passes(ids)
        self._notify(self.queue_gpu[0])

    def _complete(self, i: int) -> None:
        t = self.t
        t.finish_s[i] = self.env.now
        t.running[i], t.done[i] = False, True
        self.kv.free(i, self.env.now)
        self.running -= 1
        self.finished += 1
        if self.progress is not None:
            self.progress.update(1)
        if self.finished == t.n:
            self.all_done.succeed()
        self._notify(0)  # room for admissions

    def _grow(self, i: int) -> None:
        """KV for request i's next token, preempting the latest-admitted
        runnable requests (itself included) until it fits, as vLLM does."""
        t = self.t
        while not self.kv.allocate(i, int(t.ctx[i]), self.env.now):
            # victims: requests waiting in a queue (not in flight), or i itself
            candidates = [v for q in t.queues for v in q] + [i]
            victim = max(candidates, key=lambda v: t.admit_seq[v])
            self._preempt(victim)
            if victim == i:
                return

    def _preempt(self, v: int) -> None:
        t = self.t
        t.dequeue(v)
        self.kv.free(v, self.env.now)
        t.pass_layers[v] = t.pass_skipped[v] = 0
        t.pass_agree[v] = 1.0
        t.running[v] = False
        t.preemptions[v] += 1
        t.prefill_target[v] = t.prompt[v] + t.generated[v]  # recompute what it had
        t.prefilled[v] = 0
        t.prefilling.discard(v)
        t.waiting.appendleft(v)
        self.running -= 1
        self._notify(0)
