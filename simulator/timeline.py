"""`--timeline FILE`: the run as a Chrome trace (JSON Trace Event Format,
opens in Perfetto or chrome://tracing): one track per GPU with a slice per
step (which block, when, with which batch) and one for CPU lookups."""

from __future__ import annotations

import json
from pathlib import Path


class Timeline:
    def __init__(self, num_gpus: int):
        self.events = [{"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "skipsim"}}]
        for g in range(num_gpus):
            self._track(g, f"GPU {g}")
        self._track(num_gpus, "CPU lookups")
        self.cpu_track = num_gpus

    def _track(self, tid: int, name: str) -> None:
        self.events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid,
                            "args": {"name": name}})

    def slice(self, track: int, name: str, start_s: float, duration_s: float, **args) -> None:
        self.events.append({"name": name, "cat": "step", "ph": "X", "pid": 1, "tid": track,
                            "ts": start_s * 1e6, "dur": duration_s * 1e6, "args": args})

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"traceEvents": self.events, "displayTimeUnit": "ms"}))
        return path
