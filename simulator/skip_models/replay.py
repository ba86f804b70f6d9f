"""`replay`: router decisions read from a file of recorded per-token outcomes.

The file (CSV or Parquet, `--skip-config FILE`) has one row per recorded hit
or decision: request_id, token_index, at, landing, p_change. Mapping onto a
simulated run (documented, deterministic): the recorded requests are sorted
by request_id; simulated request r replays recorded request number
r mod R (R recorded requests), and its token t replays that request's token
t mod n, where n = 1 + the largest token_index recorded for it. A token's
index is that of its decode pass: 0 = the pass that reads the first
generated token (prefill never routes). A (request,
token, checkpoint) with no row runs on (landing = at, p_change = 0). The
replay ignores `rng`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from policies.checkpoint_plan import CheckpointPlan
from simulator.skip_model import SkipModel, SkipOutcome, register_skip_model
from skipsim.errors import UserError

COLUMNS = ("request_id", "token_index", "at", "landing", "p_change")


def read_decisions(path: str):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise UserError(f"replay file not found: {p}")
    try:
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    except Exception as err:  # pandas/pyarrow raise many types for a garbled file
        raise UserError(f"{p}: not a readable CSV/Parquet file ({err})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"{p}: missing columns {', '.join(missing)}")
    if df.empty:
        raise UserError(f"{p}: holds no decisions")
    return df


@register_skip_model("replay")
class ReplaySkipModel(SkipModel):
    name = "replay"

    def __init__(self, plan: CheckpointPlan, decisions, source: str = "?"):
        k = plan.num_blocks
        at = decisions["at"].to_numpy(np.int64)
        landing = decisions["landing"].to_numpy(np.int64)
        p = decisions["p_change"].to_numpy(float)
        if np.any((at < 1) | (at >= k)) or np.any((landing < at) | (landing > k)):
            raise UserError(f"{source}: decisions do not fit plan {plan} (need 1 <= at < {k} "
                            f"and at <= landing <= {k})")
        if np.any((p < 0) | (p > 1)) or np.any(decisions["token_index"] < 0):
            raise UserError(f"{source}: p_change must lie in [0, 1] and token_index be >= 0")
        self._recorded = np.unique(decisions["request_id"].to_numpy(np.int64))
        rec = np.searchsorted(self._recorded, decisions["request_id"].to_numpy(np.int64))
        tok = decisions["token_index"].to_numpy(np.int64)
        self._length = np.zeros(len(self._recorded), np.int64)
        np.maximum.at(self._length, rec, tok + 1)
        self._k1 = k + 1
        self._stride = int(self._length.max())
        keys = self._key(rec, tok, at)
        order = np.argsort(keys, kind="stable")
        self._keys, self._landing, self._p = keys[order], landing[order], p[order]
        if np.any(np.diff(self._keys) == 0):
            raise UserError(f"{source}: more than one row for a (request, token, checkpoint)")
        self.label = f"replay: {source} ({len(self._recorded)} recorded requests)"

    def _key(self, rec, tok, at):
        return (rec * self._stride + tok) * self._k1 + at

    @classmethod
    def from_options(cls, plan, options):
        path = options.get("skip_config")
        if not path:
            raise UserError("--skip-model replay needs --skip-config FILE (CSV or Parquet)")
        return cls(plan, read_decisions(path), Path(path).name)

    def decide(self, plan, at, request_ids, token_indices, rng):
        rec = np.asarray(request_ids, np.int64) % len(self._recorded)
        tok = np.asarray(token_indices, np.int64) % self._length[rec]
        keys = self._key(rec, tok, at)
        pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        found = self._keys[pos] == keys
        landing = np.where(found, self._landing[pos], at).astype(np.int64)
        return SkipOutcome(landing, np.where(found, self._p[pos], 0.0))
