"""Records streamed to Parquet in chunks during a run are the records kept in
memory: same rows, same order, same values, hence the same summary; the
file is written as the run goes (several row groups), in trace order."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from simulator.config import SimConfig
from simulator.metrics import summarize
from simulator.record_sink import KeepInMemory, ParquetStream
from simulator.records import RECORD_COLUMNS
from simulator.run import simulate
from traces.trace import Trace


def _trace(n=60):
    rng = np.random.default_rng([15, 2])
    return Trace(np.arange(100, 100 + n), np.sort(rng.uniform(0, 2.0, n)),
                 rng.integers(5, 200, n), rng.integers(1, 40, n), [None] * n)


CFG = SimConfig(skip_model="parametric", skip_options={"hit_rates": "0.3"}, seed=4)


def _same_records(a: dict, b: dict) -> None:
    assert list(a) == list(b) == list(RECORD_COLUMNS)
    for col in RECORD_COLUMNS:
        x, y = np.asarray(a[col]), np.asarray(b[col])
        assert x.dtype == y.dtype, col
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), col


class CountingStream(ParquetStream):
    """Notes how many finished rows were waiting (unwritten) at each write."""

    def _write(self, hi):
        self.waiting.append(int(self.done[self.written:].sum()))
        super()._write(hi)

    def bind(self, rows, num_rows):
        super().bind(rows, num_rows)
        self.waiting = []


def test_streaming_in_chunks_of_3_gives_the_in_memory_records_and_summary(tmp_path):
    kept = simulate(_trace(), CFG)
    sink = CountingStream(tmp_path / "requests.parquet", chunk_rows=3)
    streamed = simulate(_trace(), CFG, sink=sink)
    _same_records(kept.records, streamed.records)
    assert int(kept.records["hits"].sum()) > 0  # the lookups/hits folded per chunk count too
    assert streamed.records_path == tmp_path / "requests.parquet" and kept.records_path is None
    # the file is the records, in trace order, written as the run went
    meta = pq.ParquetFile(streamed.records_path).metadata
    assert meta.num_row_groups == 20 and meta.num_rows == 60
    assert len(sink.waiting) > 1 and max(sink.waiting) < 60
    on_disk = pq.read_table(streamed.records_path).to_pandas()
    _same_records(kept.records, {c: on_disk[c].to_numpy() for c in RECORD_COLUMNS})
    for slo in ({}, {"slo_ttft_s": 0.05, "slo_e2el_s": 1.0}):
        a = summarize(kept.records, kept.stats, 30, **slo)
        b = summarize(streamed.records, streamed.stats, 30, **slo)
        assert json.dumps(a) == json.dumps(b)


def test_a_chunk_waits_for_every_earlier_request():
    """Rows finish out of order; a chunk is written only once it has no gap."""
    sink = ParquetStream("unused.parquet", chunk_rows=2)
    written = []
    sink.bind(lambda lo, hi: written.append((lo, hi)), 6)
    sink._write = lambda hi: (written.append(("write", sink.written, hi)),
                              setattr(sink, "written", hi))
    for i in (1, 2, 3):
        sink.finished(i)
    assert written == []  # rows 1-3 are done, row 0 is not: nothing to write
    sink.finished(0)  # now 0..3 follow each other
    assert written == [("write", 0, 4)]
    for i in (5, 4):
        sink.finished(i)
    assert written == [("write", 0, 4), ("write", 4, 6)]


def test_keep_in_memory_reads_every_row_once_at_the_end():
    calls = []
    sink = KeepInMemory()
    sink.bind(lambda lo, hi: calls.append((lo, hi)) or {}, 5)
    for i in range(5):
        sink.finished(i)
    assert calls == []
    sink.close()
    assert calls == [(0, 5)]


def test_a_stream_of_an_unfinished_run_refuses_to_close(tmp_path):
    sink = ParquetStream(tmp_path / "r.parquet", chunk_rows=2)
    sink.bind(lambda lo, hi: {}, 3)
    sink.finished(0)
    with pytest.raises(RuntimeError, match="2 requests never finished"):
        sink.close()


RUN = ["run", "--trace", "fixed", "--num-prompts", "30", "--prompt-tokens", "64",
       "--output-tokens", "16", "--request-rate", "4", "--seed", "0", "--skip-rates", "0.3",
       "--cost-model", "roofline", "--no-progress", "--records-format", "parquet"]


def test_simulate_run_streams_a_long_trace_and_writes_the_same_outputs(tmp_path, monkeypatch):
    """Past STREAM_CHUNK_ROWS requests `simulate run --records-format parquet`
    streams the records; every output is the one of the in-memory run."""
    import pandas as pd

    import simulator.record_sink as record_sink
    from skipsim.cli import main

    made = []
    init = ParquetStream.__init__
    monkeypatch.setattr(ParquetStream, "__init__",
                        lambda self, *a, **k: made.append(self) or init(self, *a, **k))
    assert main(RUN + ["--out", str(tmp_path / "kept")]) == 0
    assert made == []  # 30 requests: kept in memory
    monkeypatch.setattr(record_sink, "STREAM_CHUNK_ROWS", 29)
    assert main(RUN + ["--out", str(tmp_path / "streamed")]) == 0
    assert [s.path for s in made] == [tmp_path / "streamed" / "requests.parquet"]
    assert made[0].chunks == 1 and made[0].written == 30
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "kept" / "requests.parquet"),
                                  pd.read_parquet(tmp_path / "streamed" / "requests.parquet"))
    for name in ("summary.json", "config.json"):
        a, b = (json.loads((tmp_path / d / name).read_text()) for d in ("kept", "streamed"))
        a.pop("date", None), b.pop("date", None)
        assert a == b, name
