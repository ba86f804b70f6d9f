"""Trace sources by name: `sharegpt`, `fixed`, `uniform`, `lognormal`.

A loader turns a `TraceConfig` into a `Trace`. Register a new source with
`@register_trace("name")` and name it in `TRACE_LOADERS`'s table
(`traces/config.py`), where the CLI reads the names without importing this
module.
`--trace PATH` (a saved .jsonl/.parquet) bypasses the registry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skipsim.errors import UserError
from traces.arrivals import gamma_arrivals, replay_arrivals
from traces.config import DEFAULT_NUM_PROMPTS, TRACE_LOADERS, TraceConfig, register_trace  # noqa: F401  (re-exported)
from traces.lengths import LengthSpec, draw_lengths
from traces.trace import Trace


def _arrivals(cfg: TraceConfig, rng: np.random.Generator, n: int | None = None,
              notes: list | None = None) -> np.ndarray:
    n = cfg.count if n is None else n
    if cfg.arrival_times_file:
        return replay_arrivals(cfg.arrival_times_file, n, notes)
    return gamma_arrivals(n, cfg.rate_per_s, cfg.burstiness, rng)


def _metadata(cfg: TraceConfig, source: str, **extra) -> dict:
    return {"source": source, "num_prompts": cfg.count,
            "request_rate_per_s": None if cfg.arrival_times_file else cfg.rate_per_s,
            "burstiness": cfg.burstiness, "seed": cfg.seed,
            "arrival_times_file": cfg.arrival_times_file, "arrivals": _arrival_kind(cfg),
            **extra}


def _arrival_kind(cfg: TraceConfig) -> str:
    return "replayed" if cfg.arrival_times_file else "drawn"


@register_trace("sharegpt")
def sharegpt_trace(cfg: TraceConfig) -> Trace:
    from traces.sharegpt import load_pairs_with_lengths, sample_indices

    df, info = load_pairs_with_lengths(cfg.tokenizer)
    prompt_len = df["prompt_tokens"].to_numpy()
    output_len = df["output_tokens"].to_numpy()
    idx = sample_indices(prompt_len, output_len, cfg.count, cfg.seed)
    # Separate streams: the arrivals do not shift when the sampling changes.
    notes: list = []
    arrivals = _arrivals(cfg, np.random.default_rng([cfg.seed, 1]), notes=notes)
    return Trace(np.arange(len(idx)), arrivals, prompt_len[idx], output_len[idx],
                 df["prompt"].to_numpy()[idx].tolist(),
                 metadata=_metadata(cfg, "sharegpt", dataset=info, tokenizer=cfg.tokenizer),
                 notes=notes)


def _synthetic(kind: str):
    def load(cfg: TraceConfig) -> Trace:
        spec = LengthSpec(kind, cfg.prompt_tokens, cfg.output_tokens)
        prompt, output = draw_lengths(spec, cfg.count, np.random.default_rng([cfg.seed, 2]))
        notes: list = []
        arrivals = _arrivals(cfg, np.random.default_rng([cfg.seed, 1]), notes=notes)
        return Trace(np.arange(cfg.count), arrivals, prompt, output,
                     [None] * cfg.count, metadata=_metadata(cfg, kind), notes=notes)
    return load


for _kind in ("fixed", "uniform", "lognormal"):
    register_trace(_kind)(_synthetic(_kind))


def is_saved_trace(name_or_path: str) -> bool:
    return name_or_path not in TRACE_LOADERS and (
        Path(name_or_path).suffix in (".jsonl", ".json", ".parquet")
        or Path(name_or_path).exists())


def own_arrivals(trace: str, tcfg: TraceConfig) -> bool:
    """The trace keeps arrival times it already has: replayed ones, or a saved
    trace's when no rate redraws them."""
    return bool(tcfg.arrival_times_file) or (
        tcfg.request_rate_per_s is None and is_saved_trace(trace))


def load_saved(path: str | Path, cfg: TraceConfig) -> Trace:
    """A saved trace, doing what the flags say: cut to `num_prompts` (when
    given; a file with fewer is refused), arrivals replayed from
    `arrival_times_file` or redrawn at `request_rate_per_s` with the seed's
    arrival stream (when given; else the file's own). `metadata["arrivals"]`
    says which ("saved", "replayed", "drawn") and `notes` say what changed."""
    trace = Trace.load(path)
    n = len(trace) if cfg.num_prompts is None else cfg.num_prompts
    if n > len(trace):
        raise UserError(f"{path} holds {len(trace)} requests, --num-prompts asks for {n}")
    notes = list(trace.notes)
    if n < len(trace):
        notes.append(f"{path}: the first {n} of its {len(trace)} requests (--num-prompts)")
    own = trace.arrival_time_s[:n]
    if cfg.arrival_times_file or cfg.request_rate_per_s is not None:
        arrivals = _arrivals(cfg, np.random.default_rng([cfg.seed, 1]), n, notes)
        how = (f"replayed from {cfg.arrival_times_file}" if cfg.arrival_times_file else
               f"redrawn at {cfg.rate_per_s:g} req/s (burstiness {cfg.burstiness:g}, "
               f"seed {cfg.seed})")
        notes.append(f"{path}: arrival times {how}; the file's own are not used")
        meta = {**trace.metadata, **_metadata(cfg, str(path)),
                "source_metadata": trace.metadata}
    else:
        arrivals = own
        meta = {**trace.metadata, "source": str(path), "num_prompts": n,
                "request_rate_per_s": None, "arrivals": "saved", "source_metadata":
                trace.metadata}
    out = trace.first(n, arrivals)
    out.metadata, out.notes = meta, notes
    return out


def load_trace(name_or_path: str, cfg: TraceConfig) -> Trace:
    """A registered source by name, or a saved trace file by path (`load_saved`)."""
    if name_or_path in TRACE_LOADERS:
        return TRACE_LOADERS[name_or_path](cfg)
    if is_saved_trace(name_or_path):
        return load_saved(name_or_path, cfg)
    raise UserError(f"unknown trace {name_or_path!r}: use one of "
                    f"{', '.join(sorted(TRACE_LOADERS))}, "
                    "or the path of a saved .jsonl/.parquet trace")
