"""The measured cost model: a `CostModel` read off a fitted profile.

`MeasuredCostModel` (registered "measured") loads a profile table
(.csv/.parquet, fitted on load) or a saved fit (.fit.json), and answers the
simulator's questions with the fits of `profiler.fit_profile`:

- block_time_s(n, batch) = n x layer(prefill tokens, prefill pairs, decode
  sequences, sum of decode contexts): the profile times distinct consecutive layers
  of one shape, so a block of n layers costs n times one of them;
- kv_projection_time_s(T, n) = n x kv_projection(T);
- lm_head_time_s(T) = logits(T); lookup_time_s(N, Q) = lookup/<index>(N, Q),
  the executor's whole routing decision (`profiler.lookup_profile`; in an
  older profile the search alone, plus the host<->device copies when the
  bank sat on the CPU of a GPU host);
- step_overhead_s: the profile's constant.

A fit refitted on executor steps of a run the roofline priced
(`profiler.from_steps`) names `base_cost_model` in its meta: what it does
not hold (lookups, K/V projections) that model answers.

The fits are monotone (time never falls as work grows, `profiler.monotone`),
but beyond the measured grid they extrapolate: `block_time_s` counts the
batches that lie outside it (a prefill longer, or with a longer context, than
any profiled; a decode batch larger, or a context longer, than any profiled)
in `outside_grid_steps`, and `grid_note` says what the grid was.

With no path it uses the committed profile of the model on the device kind
(`profiler/profiles/<device>-<model>.csv`); asking a profile for another model
than it measured is a `UserError`.
"""

from __future__ import annotations

from pathlib import Path

from profiler.committed import (  # noqa: F401 (their old home; importers use them here)
    PROFILES_DIR,
    canonical_model,
    default_profile,
    profile_path,
)
from profiler.cost_model import BatchShape, CostModel, register_cost_model
from profiler.fit import LinearFit, block_features, token_features
from profiler.fit_profile import FittedProfile, fit_profile
from profiler.profile_table import SUFFIXES, ProfileTable
from skipsim.errors import UserError

FIT_SUFFIX = ".fit.json"

def load_fitted(path: str | Path) -> FittedProfile:
    """A fitted profile from a profile table (fitted now) or a saved fit."""
    path = Path(path)
    if path.name.endswith(FIT_SUFFIX):
        return FittedProfile.load(path)
    if path.suffix in SUFFIXES:
        return fit_profile(ProfileTable.load(path), source=str(path))
    raise UserError(f"{path}: not a profile (expected .csv, .parquet or {FIT_SUFFIX})")


@register_cost_model("measured")
class MeasuredCostModel(CostModel):
    name = "measured"

    def __init__(self, spec=None, device: str = "cpu", profile: str | Path | FittedProfile
                 | None = None, model: str | None = None, index: str = "flat"):
        """`spec`/`device` as the simulator passes them (`COST_MODELS[name](spec=,
        device=)`): the model simulated (a `ModelSpec`) picks and checks the
        profile; `device` picks the committed profile when no path is given."""
        if model is None and spec is not None:
            model = spec.name
        if isinstance(profile, FittedProfile):
            self.fitted = profile
        else:
            self.fitted = load_fitted(profile or default_profile(model or "smollm2", device))
        measured = self.fitted.meta.get("model", "?")
        if model is not None and canonical_model(model) != canonical_model(measured):
            raise UserError(f"profile {self.fitted.source or '(given)'} measured model "
                            f"{measured!r}, not {model!r}: profile {model!r} with "
                            "`simulate profile` or use the roofline cost model")
        kinds = self.fitted.lookup_kinds()
        if kinds and index not in kinds:
            raise UserError(f"profile has no {index!r} lookups (has: {', '.join(kinds)})")
        self.index = index
        self.label = self.fitted.label
        self.outside_grid_steps = 0
        g = self.fitted.grid
        inf = float("inf")
        # a fit saved without its grid never counts (it cannot know)
        self._grid = (g.get("prefill_tokens", inf), g.get("prefill_context", inf),
                      g.get("decode_seqs", inf), g.get("decode_context", inf))
        self._check_context = True  # see start_run
        self.grid_note = (f"prefill <= {self._grid[0]:.0f} tokens (context <= "
                          f"{self._grid[1]:.0f}), decode batch <= {self._grid[2]:.0f} at "
                          f"context <= {self._grid[3]:.0f}") if g else ""
        self._fits = {k: f.model for k, f in self.fitted.fits.items()}
        self._layer_terms = _linear_block_terms(self._fits.get("layer"))
        # a decode-only batch's prefill features are 0: their terms add only
        # zeros, so they are left out (the same sum)
        self._decode_terms = self._layer_terms and _Terms.of(
            [t for t in self._layer_terms if t[1] not in (1, 2)], self._layer_terms.floor_s)
        self._lookup_memo: dict = {}
        # a refit of a roofline-priced run (`profiler.from_steps`) leaves what it
        # did not measure (lookups, K/V projections) to that model
        self._base_name = self.fitted.meta.get("base_cost_model")
        self._base_args = (spec, device)
        self._base: CostModel | None = None
        # integer-argument times the simulator asks for every step (pure: memoised)
        self._lm_head_memo: dict = {}
        self._kv_memo: dict = {}

    @property
    def num_layers(self) -> int:
        return int(self.fitted.meta["num_layers"])

    def _one(self, component: str, features: dict) -> float:
        return self._fits[component].predict_one(features)

    def block_time_s(self, num_layers: int, batch: BatchShape) -> float:
        n, b = batch.prefill_tokens, batch.decode_tokens  # each property read once per step
        if num_layers <= 0 or n + b == 0:
            return 0.0
        ctx = batch.decode_context_sum
        if self._outside_grid(batch, n, b, ctx):
            self.outside_grid_steps += 1
        terms = self._layer_terms
        if terms is None:
            return num_layers * self._one("layer", block_features(
                n, batch.prefill_attention_pairs, b, ctx))
        # LinearFit.predict_one on block_features, fused: the same products
        # added in the same order (bit-identical), without a dict per step
        if n:
            x = (1.0, n, batch.prefill_attention_pairs, b, ctx)
        else:
            x, terms = (1.0, 0, 0, b, ctx), self._decode_terms
        total = 0.0
        for c, source, knot in terms:
            v = x[source]
            total += c * (v if knot is None else (v - knot if v > knot else 0))
        return num_layers * max(total, terms.floor_s)

    def start_run(self, longest_request_tokens: int) -> None:
        """No context of the run exceeds its longest request: when that fits
        the grid, steps need not look for a long one (max() over a batch's
        contexts costs more than the rest of the check)."""
        self.outside_grid_steps = 0
        self._check_context = longest_request_tokens > min(self._grid[1], self._grid[3])

    def _outside_grid(self, batch: BatchShape, n: int, b: int, ctx: int) -> bool:
        top_n, top_prefill_ctx, top_b, top_ctx = self._grid
        if n > top_n or b > top_b:
            return True
        if not self._check_context:
            return False
        # every context is <= their sum: the max is needed only when the sum is larger
        if b and ctx > top_ctx and batch.decode_context_max > top_ctx:
            return True
        return bool(n) and any(m + c > top_prefill_ctx for m, c in batch.prefill_chunks)

    def lm_head_time_s(self, num_tokens: int) -> float:
        base = self._fallback("logits")
        if base is not None:
            return base.lm_head_time_s(num_tokens)
        t = self._lm_head_memo.get(num_tokens)
        if t is None:
            t = self._one("logits", token_features(num_tokens)) if num_tokens > 0 else 0.0
            self._lm_head_memo[num_tokens] = t
        return t

    def _fallback(self, component: str) -> CostModel | None:
        """The base cost model answering for `component` where this fit has none."""
        if component in self._fits or not self._base_name:
            return None
        if self._base is None:
            from profiler.resolve import cost_model_from_arg
            from skipsim.model_spec import model_spec

            spec, device = self._base_args
            spec = spec or model_spec(self.fitted.meta.get("model", "smollm2"))
            self._base = cost_model_from_arg(self._base_name, spec, device)
        return self._base

    def kv_projection_time_s(self, num_tokens: int, num_layers: int) -> float:
        base = self._fallback("kv_projection")
        if base is not None:
            return base.kv_projection_time_s(num_tokens, num_layers)
        t = self._kv_memo.get((num_tokens, num_layers))
        if t is None:
            t = (0.0 if num_tokens <= 0 or num_layers <= 0 else
                 num_layers * self._one("kv_projection", token_features(num_tokens)))
            self._kv_memo[(num_tokens, num_layers)] = t
        return t

    def skip_action_time_s(self, num_tokens: int, macs_per_token: int) -> float:
        """Priced from the measured K/V projection of one layer, the nearest
        measured GEMM of the same shape family ([n, d] x [d, 2·kv_dim]), scaled
        by multiply-adds: a d x d shortcut is d / (2·kv_dim) of it (1.5x on SmolLM2)."""
        if num_tokens <= 0 or macs_per_token <= 0:
            return 0.0
        base = self._fallback("kv_projection")
        if base is not None:
            return base.skip_action_time_s(num_tokens, macs_per_token)
        from skipsim.model_spec import model_spec

        spec = model_spec(self.fitted.meta.get("model", "smollm2"))
        hidden, kv_dim = spec.hidden_size, spec.num_kv_heads * spec.head_dim
        return self.kv_projection_time_s(num_tokens, 1) * macs_per_token / (2 * hidden * kv_dim)

    def lookup_time_s(self, bank_entries: int, num_queries: int) -> float:
        if bank_entries <= 0 or num_queries <= 0:
            return 0.0
        # the table interpolation is pure and the simulator asks the same few
        # (bank size, batch) pairs over and over: the memo is read first
        memo = self._lookup_memo.get((self.index, bank_entries, num_queries))
        if memo is not None:
            return memo
        key = f"lookup/{self.index}"
        base = self._fallback(key)
        if base is not None:
            return base.lookup_time_s(bank_entries, num_queries)
        if key not in self._fits:
            raise UserError(f"profile {self.fitted.source} has no bank lookups "
                            "(it was measured with --no-lookups)")
        t = float(self._fits[key].predict_one(bank_entries, num_queries))
        # a search timed alone (profiles made before the routing decision was) pays
        # the copies of a bank on the host of a GPU; a decision includes them
        meta = self.fitted.meta
        if (self.fitted.fits[key].where == "cpu" and meta.get("device_kind") == "cuda"
                and "lookup_timed" not in meta):
            for copy in ("copy_d2h", "copy_h2d"):
                if copy in self._fits:
                    t += self._one(copy, token_features(num_queries))
        self._lookup_memo[(self.index, bank_entries, num_queries)] = t
        return t

    @property
    def step_overhead_s(self) -> float:
        return self.fitted.step_overhead_s


class _Terms(tuple):
    floor_s: float

    @classmethod
    def of(cls, terms: list, floor_s: float) -> _Terms:
        out = cls(terms)
        out.floor_s = floor_s
        return out


def _linear_block_terms(model) -> _Terms | None:
    """(coefficient, source, knot) per feature of a linear layer fit, sources
    indexing (1, prefill tokens, prefill pairs, decode seqs, decode context)
    and knot None for a plain feature; None when the fit is not linear or
    reads a feature `block_features` does not make (the general path prices it)."""
    if not isinstance(model, LinearFit):
        return None
    made = block_features(1, 1, 1, 1)
    sources = {"one": 0, "prefill_tokens": 1, "prefill_pairs": 2, "decode_seqs": 3,
               "decode_context": 4}
    terms = []
    for name, c in zip(model.features, model.coef):
        base, _, knot = name.partition(">")
        if name not in made or base not in sources:
            return None
        terms.append((c, sources[base], int(knot) if knot else None))
    return _Terms.of(terms, model.floor_s)
