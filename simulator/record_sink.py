"""Where finished requests' records go: kept in memory, or streamed to Parquet.

The engine tells its sink, once per request, that the request finished
(`finished(i)`, i = its row in the request table); the sink reads the
finished rows column-wise through the `rows(lo, hi)` function it is bound
to (records of rows lo..hi-1, `RECORD_COLUMNS` -> arrays) and decides when.

`KeepInMemory` (the baseline) collects every record once, at the end: the
records of a normal run, exactly as before. `ParquetStream` writes the
records to a Parquet file in chunks of `chunk_rows`, in trace order (rows
finished out of order wait until every earlier row has finished), so no
record of a long run lives in memory until the end; `close()` reads the
file back column-wise, and the summary computed from those columns is the
one the in-memory records give (same values, same order).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np

from simulator.records import RECORD_COLUMNS, record_frame

Rows = Callable[[int, int], dict]  # (lo, hi) -> records of rows lo..hi-1
STREAM_CHUNK_ROWS = 50_000  # ~7 MB of records per write (17 columns x 8 bytes)


class RecordSink(ABC):
    """Receives each finished request once; `close()` gives the run's records
    (`RECORD_COLUMNS` -> arrays, in trace order)."""

    path: Path | None = None  # the records file it wrote, if any

    def bind(self, rows: Rows, num_rows: int) -> None:
        """Called once before the run: how to read finished rows, and how many there are."""
        self.rows, self.num_rows = rows, num_rows

    @abstractmethod
    def finished(self, i: int) -> None:
        """Row i's record is final (called by the engine when the request completes)."""

    @abstractmethod
    def close(self) -> dict:
        """After the run: the records, all rows in order."""


class KeepInMemory(RecordSink):
    """The records of every row, read once after the run."""

    def finished(self, i: int) -> None:
        pass

    def close(self) -> dict:
        return self.rows(0, self.num_rows)


class ParquetStream(RecordSink):
    """Records written to `path` in trace order, a row group per chunk."""

    def __init__(self, path: str | Path, chunk_rows: int = STREAM_CHUNK_ROWS):
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        self.path, self.chunk_rows = Path(path), chunk_rows
        self.written = 0  # rows 0..written-1 are in the file
        self.since_check = 0  # rows finished since the last look for a writable chunk
        self.writer = None
        self.chunks = 0

    def bind(self, rows: Rows, num_rows: int) -> None:
        super().bind(rows, num_rows)
        self.done = np.zeros(num_rows, bool)

    def finished(self, i: int) -> None:
        self.done[i] = True
        self.since_check += 1
        if self.since_check >= self.chunk_rows:
            self.since_check = 0
            self._write_ready()

    def _write_ready(self) -> None:
        """Write the whole chunks of finished rows that follow the file's last
        row without a gap (every row group but the last is a full chunk)."""
        rest = self.done[self.written:]
        ready = len(rest) if rest.all() else int(np.argmin(rest))
        if ready >= self.chunk_rows:
            self._write(self.written + ready // self.chunk_rows * self.chunk_rows)

    def _write(self, hi: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for lo in range(self.written, hi, self.chunk_rows):
            table = pa.Table.from_pandas(record_frame(self.rows(lo, min(hi, lo + self.chunk_rows))),
                                         preserve_index=False)
            if self.writer is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.writer = pq.ParquetWriter(self.path, table.schema)
            self.writer.write_table(table)
            self.chunks += 1
        self.written = hi

    def close(self) -> dict:
        import pyarrow.parquet as pq

        if not self.done.all():
            raise RuntimeError(f"{int((~self.done).sum())} requests never finished")
        if self.written < self.num_rows:
            self._write(self.num_rows)
        self.writer.close()
        # one column at a time: the file's records are never all in memory twice
        return {c: pq.read_table(self.path, columns=[c]).column(c).to_numpy()
                for c in RECORD_COLUMNS}
