"""`--timeline FILE`: the run as a Chrome trace (JSON Trace Event Format,
opens in Perfetto or chrome://tracing): one track per GPU with a slice per
step (which block, when, with which batch) and one for CPU lookups.

A long run makes a large file (~240 bytes a slice: 500 ShareGPT prompts wrote
119 MB): `--timeline-window START:END` keeps only the slices that overlap
that span of simulated seconds, `--timeline-sample N` only the slices of
steps that serve one of N requests spread evenly over the trace, and the CLI
prints the size written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from skipsim.errors import UserError


def parse_window(text: str | None) -> tuple[float, float] | None:
    """`START:END` in simulated seconds (either side may be empty: from the
    start, to the end) -> (start, end); None passes through."""
    if text is None:
        return None
    start, sep, end = text.partition(":")
    try:
        window = (float(start) if start.strip() else 0.0,
                  float(end) if end.strip() else math.inf)
    except ValueError:
        window = None
    if not sep or window is None or not (0 <= window[0] < window[1]) or math.isnan(window[1]):
        raise UserError(f"--timeline-window {text!r}: expected START:END in simulated "
                        "seconds, 0 <= START < END (e.g. 100:160)")
    return window


def sample_requests(num_requests: int, count: int | None) -> frozenset | None:
    """`count` request indices spread evenly over 0..num_requests-1 (None: all)."""
    if count is None:
        return None
    if count < 1:
        raise UserError(f"--timeline-sample must be at least 1, got {count}")
    picks = np.linspace(0, num_requests - 1, min(count, num_requests))
    return frozenset(int(round(v)) for v in picks)


class Timeline:
    def __init__(self, num_gpus: int, window: tuple[float, float] | None = None,
                 sample: frozenset | None = None):
        self.window, self.sample = window, sample
        self.slices = 0
        self.events = [{"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "skipsim"}}]
        for g in range(num_gpus):
            self._track(g, f"GPU {g}")
        self._track(num_gpus, "CPU lookups")
        self.cpu_track = num_gpus

    def _track(self, tid: int, name: str) -> None:
        self.events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid,
                            "args": {"name": name}})

    def slice(self, track: int, name: str, start_s: float, duration_s: float,
              members=None, **args) -> None:
        """One step on `track`; `members`: the request indices it served."""
        if self.window and not (self.window[0] <= start_s + duration_s
                                and start_s <= self.window[1]):
            return
        if self.sample is not None and members is not None and self.sample.isdisjoint(
                members.tolist()):
            return
        self.slices += 1
        self.events.append({"name": name, "cat": "step", "ph": "X", "pid": 1, "tid": track,
                            "ts": start_s * 1e6, "dur": duration_s * 1e6, "args": args})

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"traceEvents": self.events, "displayTimeUnit": "ms"}))
        return path
