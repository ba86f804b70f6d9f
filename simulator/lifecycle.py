"""A request's life between steps: it produces a token, finishes, grows its
KV cache, or is preempted (vLLM's recompute: it gives back all its KV and
later re-prefills prompt + generated tokens; the victim is the
`PreemptionPolicy`'s choice). Mixed into `Engine`, whose
state (`t`, `kv`, `env`, counters) these methods update.
"""

from __future__ import annotations

import math


class RequestLifecycle:
    def _emit(self, ids: list[int], from_prefill: bool) -> None:
        """Each request of `ids` produced one output token now."""
        t, now, kv = self.t, self.env.now, self.kv
        generated, ctx, agree, executed = t.generated, t.ctx, t.agree_sum, t.layers_executed
        pass_agree, pass_skipped, output = t.pass_agree, t.pass_skipped, t.output
        num_layers = self.plan.num_layers
        # one pass over the batch: count the token, reset the pass accumulators
        # for the next decode pass (a finished request's are never read again,
        # a preempted one's are reset by _preempt), split finished/live, and
        # for the live the KV blocks their grown context needs (finishing
        # others first frees only their own blocks: the same counts)
        block_tokens, held = kv.block_tokens, kv.held
        done, live, grow, extra, total = [], [], [], [], 0
        first, skipped = t.first_token_s, t.layers_skipped
        for i in ids:
            g = generated[i] = generated[i] + 1
            c = ctx[i] = ctx[i] + 1
            if from_prefill:
                if math.isnan(first[i]):
                    first[i] = now
                agree[i] += 1.0  # prefill runs full depth
                if g > 1:  # a recompute after preemption: a later token, full depth
                    executed[i] += num_layers
                pass_skipped[i] = 0
                pass_agree[i] = 1.0
            else:
                agree[i] += pass_agree[i]
                s = pass_skipped[i]
                executed[i] += num_layers - s
                if s:  # only a hit changes the pass accumulators
                    skipped[i] += s
                    pass_skipped[i] = 0
                    pass_agree[i] = 1.0
            if g >= output[i]:
                done.append(i)
            else:
                live.append(i)
                e = -(-c // block_tokens) - held[i]
                total += e
                if e > 0:
                    grow.append(i)
                    extra.append(e)
        for i in done:
            self._complete(i)
        if not live:
            return
        if total <= kv.free_blocks:
            kv.grow_many(grow, extra, now)
        else:
            for i in grow:
                if t.running[i]:
                    self._grow(i)
            live = [i for i in live if t.running[i]]
        # the next decode pass enters queue 0; chunk[i] is read for prefill passes
        # only, a decode pass's size is its queue value
        t.queues[0].update(dict.fromkeys(live, 1))
        self._notify(self.queue_gpu[0])

    def _complete(self, i: int) -> None:
        t = self.t
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
