"""The SimPy discrete-event model of a layer-skipping LLM server.

Data flow: `config.py` (what to simulate) → `run.py` resolves names
(`components.py`), splits memory (`memory.py`) and builds the `engine.py`
processes over request state (`state.py`), the paged KV cache
(`kv_cache.py`), the routers (`router.py`, skip models in `skip_model.py`
and `skip_models/`) and request life events (`lifecycle.py`); same-time
event order lives in `events.py`. Out come per-request records
(`records.py`, the schema the real executor writes too), run metrics
(`metrics.py`), files (`writers.py`, `timeline.py`). `cli.py` is
`simulate run`.
"""
