"""The per-request record: one schema for the simulator and the real executor.

`validate` joins the two on request_id and subtracts, so both must write
these columns with these units. `RunStats` is the run-level record beside
them (the engine's or the executor's counters), which `summarize` reads.
Times are seconds from the first arrival.
Decode passes are the output tokens after the first (the first comes from
prefill, which always runs full depth); per-token layer counts refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# column -> meaning (units in the name)
RECORD_COLUMNS = {
    "request_id": "the trace's request id",
    "arrival_time_s": "when the request arrived",
    "first_token_time_s": "when its first output token was produced",
    "finish_time_s": "when its last output token was produced",
    "prompt_tokens": "prompt length",
    "output_tokens": "tokens generated (= requested)",
    "ttft_s": "time to first token: first_token_time_s - arrival_time_s",
    "tpot_s": "time per output token after the first (vLLM): "
              "(finish - first token) / (output_tokens - 1); NaN for 1-token outputs",
    "e2e_s": "end-to-end latency: finish_time_s - arrival_time_s",
    "layers_executed": "decoder layers run by the passes that produced its output tokens after "
                       "the first (a token recomputed after preemption counts full depth)",
    "layers_skipped": "decoder layers skipped or exited past by those passes",
    "lookups": "bank lookups made for its decode tokens",
    "lookup_time_s": "time of the batched lookups its tokens took part in",
    "hits": "router decisions that skipped or exited",
    "exits": "decode passes that exited early to the LM head",
    "preemptions": "times its KV cache was taken back (recomputed later)",
    "expected_agreement": "mean over its output tokens of P(token = full model's token)",
}


def record_frame(columns: dict[str, np.ndarray]):
    """A pandas DataFrame with exactly the schema's columns, in order."""
    import pandas as pd

    missing = [c for c in RECORD_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"records lack {missing}")
    return pd.DataFrame({c: np.asarray(columns[c]) for c in RECORD_COLUMNS})


@dataclass(frozen=True)
class RunStats:
    """A run's totals that no per-request column holds, filled the same way
    by the simulator's engine and a real executor at the end of a run."""

    end_s: float  # clock at the end (0 = the first arrival's clock origin)
    steps: int  # batched steps (block, LM-head-only and repair steps)
    token_block_executions: int  # tokens x blocks run (prefill tokens included)
    busy_s: tuple[float, ...]  # per device (GPU / pipeline stage): time running steps
    lookup_busy_s: float  # time spent on bank lookups (in line or on the host)
    kv_utilisation_mean: float  # time-weighted share of KV blocks in use (PagedKVCache)
    kv_utilisation_peak: float  # most blocks in use / capacity
    lookup_servers: int = 1  # devices whose lookup time adds up (in-line: each GPU; host: 1)
    steps_outside_grid: int = 0  # steps the cost model priced outside its profiled grid
