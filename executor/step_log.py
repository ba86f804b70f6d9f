"""The per-step log of a real run (`steps.parquet`): one row per piece of
device work, with the cost model's price of the same batch beside its
measured time, so the overhead the profile does not see can be read off.

kind: prefill (full depth), block (decode tokens through block `block`),
lookup (a batched bank lookup at checkpoint `block`), kv_hole (filling the
holes of skipped layers), lm_head (`block` = num_blocks), repair.
"""

from __future__ import annotations

COLUMNS = ("step", "kind", "block", "start_s", "end_s", "batch_size", "tokens",
           "context_sum", "lookups", "cost_model_s")


class StepLog:
    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, step: int, kind: str, block: int, start_s: float, end_s: float,
            batch_size: int, tokens: int, context_sum: int, lookups: int,
            cost_model_s: float) -> None:
        self.rows.append((step, kind, block, start_s, end_s, batch_size, tokens, context_sum,
                          lookups, cost_model_s))

    def frame(self):
        import pandas as pd

        df = pd.DataFrame(self.rows, columns=list(COLUMNS))
        df["duration_s"] = df["end_s"] - df["start_s"]
        return df
