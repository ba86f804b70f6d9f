"""The per-step log of a real run (`steps.parquet`): one row per piece of
device work, with the cost model's price of the same batch beside its
measured time, and one row per whole step, so the overhead the profile does
not see can be read off (and fitted: `simulate profile --from-steps`).

kind: prefill (prefill chunks through block `block`: full depth, one block
at a time), block (decode tokens through block `block`),
lookup (a batched bank lookup at checkpoint `block`), kv_hole (filling the
holes of skipped layers), lm_head (`block` = num_blocks), repair, and step:
the whole step, from the executor loop's turn (arrivals, admission,
scheduling, the pieces above, bookkeeping) to its end, priced at the cost
model's per-step overhead. A step's wall time is its `step` row; its pieces
are the other rows with its number (their durations are inside it).

layers: decoder layers the piece ran (the block's);
pairs: causal query-key pairs of a prefill piece (sum over its chunks of
n c + n (n + 1) / 2, `BatchShape.prefill_attention_pairs`); bank_entries: the
bank a lookup searched (its time is the whole routing decision,
`routing.checkpoint_decision`: gathering the states, the host copies, the
similarity features, the search and vote, the threshold, the decisions'
bookkeeping; the profile's lookup rows time the same function).
"""

from __future__ import annotations

COLUMNS = ("step", "kind", "block", "start_s", "end_s", "batch_size", "tokens",
           "context_sum", "lookups", "cost_model_s", "layers", "pairs", "bank_entries")
STEP = "step"  # the kind of the whole-step rows


class StepLog:
    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, step: int, kind: str, block: int, start_s: float, end_s: float,
            batch_size: int, tokens: int, context_sum: int, lookups: int,
            cost_model_s: float, layers: int = 0, pairs: int = 0,
            bank_entries: int = 0) -> None:
        self.rows.append((step, kind, block, start_s, end_s, batch_size, tokens, context_sum,
                          lookups, cost_model_s, layers, pairs, bank_entries))

    def frame(self):
        import pandas as pd

        df = pd.DataFrame(self.rows, columns=list(COLUMNS))
        df["duration_s"] = df["end_s"] - df["start_s"]
        return df
