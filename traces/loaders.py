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
from traces.config import TRACE_LOADERS, TraceConfig, register_trace  # noqa: F401  (re-exported)
from traces.lengths import LengthSpec, draw_lengths
from traces.trace import Trace


def _arrivals(cfg: TraceConfig, rng: np.random.Generator) -> np.ndarray:
    if cfg.arrival_times_file:
        return replay_arrivals(cfg.arrival_times_file, cfg.num_prompts)
    return gamma_arrivals(cfg.num_prompts, cfg.request_rate_per_s, cfg.burstiness, rng)


def _metadata(cfg: TraceConfig, source: str, **extra) -> dict:
    return {"source": source, "num_prompts": cfg.num_prompts,
            "request_rate_per_s": cfg.request_rate_per_s, "burstiness": cfg.burstiness,
            "seed": cfg.seed, "arrival_times_file": cfg.arrival_times_file, **extra}


@register_trace("sharegpt")
def sharegpt_trace(cfg: TraceConfig) -> Trace:
    from traces.sharegpt import load_pairs_with_lengths, sample_indices

    df, info = load_pairs_with_lengths(cfg.tokenizer)
    prompt_len = df["prompt_tokens"].to_numpy()
    output_len = df["output_tokens"].to_numpy()
    idx = sample_indices(prompt_len, output_len, cfg.num_prompts, cfg.seed)
    # Separate streams: the arrivals do not shift when the sampling changes.
    arrivals = _arrivals(cfg, np.random.default_rng([cfg.seed, 1]))
    return Trace(np.arange(len(idx)), arrivals, prompt_len[idx], output_len[idx],
                 df["prompt"].to_numpy()[idx].tolist(),
                 metadata=_metadata(cfg, "sharegpt", dataset=info, tokenizer=cfg.tokenizer))


def _synthetic(kind: str):
    def load(cfg: TraceConfig) -> Trace:
        spec = LengthSpec(kind, cfg.prompt_tokens, cfg.output_tokens)
        prompt, output = draw_lengths(spec, cfg.num_prompts, np.random.default_rng([cfg.seed, 2]))
        arrivals = _arrivals(cfg, np.random.default_rng([cfg.seed, 1]))
        return Trace(np.arange(cfg.num_prompts), arrivals, prompt, output,
                     [None] * cfg.num_prompts, metadata=_metadata(cfg, kind))
    return load


for _kind in ("fixed", "uniform", "lognormal"):
    register_trace(_kind)(_synthetic(_kind))


def load_trace(name_or_path: str, cfg: TraceConfig) -> Trace:
    """A registered source by name, or a saved trace file by path.

    A saved trace keeps its own arrival times and lengths; it is cut to
    `num_prompts` when it holds more.
    """
    if name_or_path in TRACE_LOADERS:
        return TRACE_LOADERS[name_or_path](cfg)
    path = Path(name_or_path)
    if path.suffix in (".jsonl", ".json", ".parquet") or path.exists():
        trace = Trace.load(path)
        return trace
    raise UserError(f"unknown trace {name_or_path!r}: use one of "
                    f"{', '.join(sorted(TRACE_LOADERS))}, or the path of a saved .jsonl/.parquet trace")
