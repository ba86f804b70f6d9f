"""The `Trace` type: requests with arrival times and token counts.

Stored column-wise (numpy arrays) so that 10^5 requests stay cheap; saved
as JSONL (one request per line, after a header line with the metadata) or
Parquet (metadata in the schema). Both formats round-trip exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skipsim.errors import UserError

COLUMNS = ("request_id", "arrival_time_s", "prompt_tokens", "output_tokens", "prompt_text")


def whole_numbers(values, name: str) -> np.ndarray:
    """`values` as int64, refusing what is not a whole number (a token count of
    3.7 is a broken file, not 3 tokens)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    try:
        as_float = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise UserError(f"trace {name} must be whole numbers") from None
    bad = ~np.isfinite(as_float) | (as_float != np.round(as_float))
    if np.any(bad):
        raise UserError(f"trace {name} must be whole numbers, got {as_float[np.argmax(bad)]:g}")
    return as_float.astype(np.int64)


@dataclass(frozen=True)
class Request:
    request_id: int
    arrival_time_s: float
    prompt_tokens: int
    output_tokens: int
    prompt_text: str | None = None


@dataclass
class Trace:
    """Requests sorted by arrival time, plus free-form metadata (source, seed...)."""

    request_id: np.ndarray
    arrival_time_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    prompt_text: list[str | None]
    metadata: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)  # what loading did that the user should hear

    def __post_init__(self):
        self.request_id = whole_numbers(self.request_id, "request_id")
        self.arrival_time_s = np.asarray(self.arrival_time_s, dtype=np.float64)
        self.prompt_tokens = whole_numbers(self.prompt_tokens, "prompt_tokens")
        self.output_tokens = whole_numbers(self.output_tokens, "output_tokens")
        self.prompt_text = list(self.prompt_text)
        n = len(self.request_id)
        if not all(len(c) == n for c in (self.arrival_time_s, self.prompt_tokens,
                                          self.output_tokens, self.prompt_text)):
            raise UserError("trace columns have different lengths")
        if n and (np.any(self.prompt_tokens < 1) or np.any(self.output_tokens < 1)):
            raise UserError("every request needs at least one prompt and one output token")
        if n and (np.any(~np.isfinite(self.arrival_time_s)) or np.any(self.arrival_time_s < 0)):
            raise UserError("arrival times must be finite and non-negative")
        if n and np.any(np.diff(self.arrival_time_s) < 0):
            self.notes.append("arrival times were not in order: requests sorted by arrival time")
            order = np.argsort(self.arrival_time_s, kind="stable")
            self.request_id = self.request_id[order]
            self.arrival_time_s = self.arrival_time_s[order]
            self.prompt_tokens = self.prompt_tokens[order]
            self.output_tokens = self.output_tokens[order]
            self.prompt_text = [self.prompt_text[i] for i in order]

    def __len__(self) -> int:
        return len(self.request_id)

    def first(self, n: int, arrival_time_s: np.ndarray | None = None) -> Trace:
        """The first `n` requests with their texts and metadata, optionally
        arriving at other times."""
        arrivals = self.arrival_time_s[:n] if arrival_time_s is None else arrival_time_s
        return Trace(self.request_id[:n], arrivals, self.prompt_tokens[:n],
                     self.output_tokens[:n], self.prompt_text[:n], dict(self.metadata),
                     list(self.notes))

    def head(self, n: int, arrival_time_s: np.ndarray) -> Trace:
        """The first `n` requests, arriving at `arrival_time_s` (prompt texts dropped)."""
        return Trace(self.request_id[:n], arrival_time_s, self.prompt_tokens[:n],
                     self.output_tokens[:n], [None] * n)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, i: int) -> Request:
        return Request(int(self.request_id[i]), float(self.arrival_time_s[i]),
                       int(self.prompt_tokens[i]), int(self.output_tokens[i]), self.prompt_text[i])

    @property
    def duration_s(self) -> float:
        return float(self.arrival_time_s[-1] - self.arrival_time_s[0]) if len(self) else 0.0

    @classmethod
    def from_requests(cls, requests: list[Request], metadata: dict | None = None) -> Trace:
        cols = {c: [getattr(r, c) for r in requests] for c in COLUMNS}
        return cls(**cols, metadata=dict(metadata or {}))

    def summary(self) -> dict:
        """Count, token statistics, duration and achieved rate, as printed by the CLI."""
        def stats(x):
            return {"mean": float(np.mean(x)), "p50": float(np.percentile(x, 50)),
                    "p99": float(np.percentile(x, 99)), "max": int(np.max(x))}
        out = {"requests": len(self)}
        if len(self):
            out["prompt_tokens"] = stats(self.prompt_tokens)
            out["output_tokens"] = stats(self.output_tokens)
            out["duration_s"] = self.duration_s
            out["achieved_rate_per_s"] = ((len(self) - 1) / self.duration_s
                                          if self.duration_s > 0 else float("inf"))
        return out

    # ---------------------------------------------------------------- I/O
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        if path.suffix == ".parquet":
            self._save_parquet(tmp)
        elif path.suffix in (".jsonl", ".json"):
            self._save_jsonl(tmp)
        else:
            raise UserError(f"{path}: a trace is saved as .jsonl or .parquet")
        tmp.replace(path)  # never leave a half-written trace behind
        return path

    def _save_jsonl(self, path: Path) -> None:
        with open(path, "w") as f:
            f.write(json.dumps({"skipsim_trace": 1, "metadata": self.metadata}) + "\n")
            for r in self:
                f.write(json.dumps(r.__dict__) + "\n")

    def _save_parquet(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({c: getattr(self, c) for c in COLUMNS})
        table = table.replace_schema_metadata({"skipsim_trace": json.dumps(self.metadata)})
        pq.write_table(table, path)

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"trace file not found: {path}")
        if path.suffix == ".parquet":
            return cls._load_parquet(path)
        return cls._load_jsonl(path)

    @classmethod
    def _load_jsonl(cls, path: Path) -> Trace:
        metadata, rows = {}, []
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    raise UserError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
                if not isinstance(obj, dict):
                    raise UserError(f"{path}:{lineno}: expected a JSON object per line")
                if "skipsim_trace" in obj:
                    metadata = obj.get("metadata", {})
                    continue
                try:
                    # counts stay as written: Trace refuses what is not whole
                    rows.append(Request(obj["request_id"], float(obj["arrival_time_s"]),
                                        obj["prompt_tokens"], obj["output_tokens"],
                                        obj.get("prompt_text")))
                except (KeyError, TypeError, ValueError) as err:
                    raise UserError(f"{path}:{lineno}: a request needs request_id, "
                                    "arrival_time_s, prompt_tokens, output_tokens "
                                    f"({err})") from None
        if not rows:
            raise UserError(f"{path}: the trace holds no requests")
        return cls.from_requests(rows, metadata)

    @classmethod
    def _load_parquet(cls, path: Path) -> Trace:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as err:  # pyarrow raises several types for a garbled file
            raise UserError(f"{path}: not a readable Parquet file ({err})") from None
        missing = [c for c in COLUMNS[:4] if c not in table.column_names]
        if missing:
            raise UserError(f"{path}: missing columns {', '.join(missing)}")
        meta = (table.schema.metadata or {}).get(b"skipsim_trace", b"{}")
        texts = (table.column("prompt_text").to_pylist() if "prompt_text" in table.column_names
                 else [None] * table.num_rows)
        return cls(*(table.column(c).to_numpy() for c in COLUMNS[:4]), texts,
                   metadata=json.loads(meta))
