"""What the context features carry from one decode step to the next, per sequence.

`features.context_features` needs, besides the token's own states, three
quantities that depend on the sequence's earlier decode steps: at the
checkpoint, the previous routed token's cos(h_{b-1}, h_b) and the running
mean of that cos; and the previous step's final-softmax confidence. Offline
they come from a whole recorded sequence at once (`sequence_running`,
`previous_steps`); a live decode sees one step at a time and keeps them
here. The live calibration (`profiler/calibration/live_eval.py`) and the
real executor (`executor/`) use this one object, so a router sees the same
features in both.

Sequences are keyed by any hashable id (a prompt's slot, a request id); the
caller `drop`s a sequence it is done with (finished, preempted), so what is
held stays as large as the sequences in flight. A sequence seen for the
first time reads as a first decode step: its previous token's cos is its
own, its previous step's confidence zeros (`features.previous_steps`).
"""

from __future__ import annotations

import numpy as np

from policies.routers.features import STEP_CONFIDENCE, context_features


class _Sequence:
    __slots__ = ("cos", "last_step")

    def __init__(self):
        self.cos: dict[int, tuple[float, float, int]] = {}  # checkpoint -> (last, sum, count)
        self.last_step = np.zeros(STEP_CONFIDENCE)


class LiveContext:
    def __init__(self):
        self._seqs: dict = {}

    def features(self, at: int, seqs, steps: np.ndarray, h: np.ndarray, h1: np.ndarray,
                 h2: np.ndarray, cos: np.ndarray) -> np.ndarray:
        """`context_features` [n, F] of n tokens of sequences `seqs` standing at
        checkpoint `at` (decode steps `steps`, 1-based; h_b, h_{b-1}, h_{b-2}
        [n, d]; cos = cos(h_{b-1}, h_b) [n]), and count them in the running cos."""
        n = len(h)
        prev, mean = np.empty(n), np.empty(n)
        last = np.empty((n, STEP_CONFIDENCE))
        for m, s in enumerate(_ids(seqs)):
            seq = self._sequence(s)
            c = float(cos[m])
            before, total, count = seq.cos.get(at, (c, 0.0, 0))
            seq.cos[at] = (c, total + c, count + 1)
            prev[m], mean[m] = before, (total + c) / (count + 1)
            last[m] = seq.last_step
        return context_features(h, h1, h2, steps, prev, mean, last)

    def record_step(self, seqs, conf: np.ndarray) -> None:
        """The step's final-softmax `step_confidence` of these sequences [n,
        STEP_CONFIDENCE]: what their next decode step reads as the previous
        step's confidence (the caller computes it where the LM head ran)."""
        for m, s in enumerate(_ids(seqs)):
            self._sequence(s).last_step = conf[m]

    def _sequence(self, s) -> _Sequence:
        seq = self._seqs.get(s)
        if seq is None:
            seq = self._seqs[s] = _Sequence()
        return seq

    def drop(self, seq) -> None:
        self._seqs.pop(seq, None)

    def held(self) -> set:
        """The sequences with state (for integrity checks: no more than in flight)."""
        return set(self._seqs)


def _ids(seqs) -> list:
    return seqs.tolist() if isinstance(seqs, np.ndarray) else list(seqs)
