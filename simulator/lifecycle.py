"""A request's life between steps: it produces a token, finishes, grows its
KV cache, or is preempted (vLLM's recompute: it gives back all its KV and
later re-prefills prompt + generated tokens; the victim is the
`PreemptionPolicy`'s choice). Mixed into `Engine`, whose
state (`t`, `kv`, `env`, counters) these methods update.
"""

from __future__ import annotations

import numpy as np


class RequestLifecycle:
    def _emit(self, ids: np.ndarray, from_prefill: bool) -> None:
        """Each request of `ids` (table indices, int64) produced one output token now.

        In bulk over the batch: count the token, fold the pass accumulators
        into the totals and reset them for the next decode pass (a finished
        request's are never read again, a preempted one's are reset by
        `preempt`), split finished from live, and grow the live requests' KV."""
        t, now, kv = self.t, self.env.now, self.kv
        g = t.generated[ids] + 1
        t.generated[ids] = g
        before = t.ctx[ids]
        t.ctx[ids] = before + 1
        if from_prefill:
            fresh = ids[np.isnan(t.first_token_s[ids])]
            t.first_token_s[fresh] = now
            t.agree_sum[ids] += 1.0  # prefill runs full depth
        else:  # (layers executed follow from the skipped ones: see _complete)
            t.agree_sum[ids] += t.pass_agree[ids]
            t.layers_skipped[ids] += t.pass_skipped[ids]
        # a pass without hits left both at their reset values: resetting all is the same
        t.pass_skipped[ids] = 0
        t.pass_agree[ids] = 1.0
        more = g < t.output[ids]
        live = ids[more]
        if len(live) < len(ids):
            for i in ids[~more].tolist():
                self._complete(i)
            if not len(live):
                return
            before = before[more]
        # A running request holds exactly the blocks of its context
        # (kv.blocks_for(ctx): admission allocates the prefill, every token
        # grows it), so only a token that starts a new block needs one more
        # (finishing others first frees only their own blocks: the same counts).
        grow = live[before % kv.block_tokens == 0].tolist()
        if len(grow) <= kv.free_blocks:
            kv.grow_many(grow, [1] * len(grow), now)
        else:
            for i in grow:
                if t.running[i]:
                    self._grow(i)
            live = live[t.running[live]]
        # the next decode pass enters queue 0; chunk[i] is read for prefill passes
        # only, a decode pass's size is its queue value
        t.queues[0].extend(live)
        self._notify(self.queue_gpu[0])

    def _complete(self, i: int) -> None:
        """Request i produced its last token: its record is final."""
        t = self.t
        # Every emitted token but the first (a prefill's) ran num_layers less
        # what its pass skipped; a recompute prefill runs full depth and skips
        # nothing: so layers executed = num_layers x (generated - 1) - skipped.
        t.layers_executed[i] = self.plan.num_layers * (t.generated[i] - 1) - t.layers_skipped[i]
        t.finish_s[i] = self.env.now
        t.running[i], t.done[i] = False, True
        self.kv.free(i, self.env.now)
        self.running -= 1
        self.finished += 1
        self.sink.finished(i)
        if self.progress is not None:
            self.progress.update(1)
        if self.finished == t.n:
            self.all_done.succeed()
        self._notify(0)  # room for admissions

    def _grow(self, i: int) -> None:
        """KV for request i's next token, preempting the preemption policy's
        victims among the runnable requests (itself included) until it fits."""
        t = self.t
        # runnable: requests waiting in a queue (not in flight), and i itself
        self.preemption.make_room(self.kv, i, int(t.ctx[i]), self.env.now,
                                  lambda: [v for q in t.queues for v in q], t.admit_seq,
                                  self._preempt)

    def _preempt(self, v: int) -> None:
        self.kv.free(v, self.env.now)
        self.t.preempt(v)
        self.running -= 1
        self._notify(0)
