"""The SimPy discrete-event model of a layer-skipping LLM server.

Data flow: `config.py` (what to simulate) → `run.py` resolves names
(`components.py`), splits memory (`policies/memory_split.py`) and builds the
`engine.py` processes over request state (`state.py`), the paged KV cache
(`skipsim/kv_pages.py`), the router step (`router_step.py`, skip models in
`skip_model.py` and `skip_models/`) and request life events (`lifecycle.py`);
same-time event order lives in `events.py`. Every decision is a `policies/`
object the real executor calls too (scheduler, admission, preemption victim,
KV-hole policy and its repair debt). Out come per-request records and the
run's `RunStats` (`records.py`, the schema the real executor writes too),
run metrics (`metrics.py`), files (`writers.py`, `timeline.py`). `cli.py` is
`simulate run`.
"""
