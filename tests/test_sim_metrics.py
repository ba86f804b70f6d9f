"""`summarize` from plain records and a `RunStats`, as a real executor fills
them: closed forms on a two-request run, no engine involved."""

import numpy as np
import pytest

from simulator.metrics import summarize
from simulator.records import RECORD_COLUMNS, RunStats


def records():
    r = {"request_id": [0, 1], "arrival_time_s": [0.0, 1.0], "first_token_time_s": [0.5, 2.0],
         "finish_time_s": [2.5, 4.0], "prompt_tokens": [10, 20], "output_tokens": [5, 1],
         "layers_executed": [100, 0], "layers_skipped": [20, 0], "lookups": [8, 0],
         "lookup_time_s": [0.1, 0.0], "hits": [3, 0], "exits": [1, 0], "preemptions": [2, 0],
         "expected_agreement": [0.8, 1.0]}
    r = {k: np.asarray(v) for k, v in r.items()}
    r["ttft_s"] = r["first_token_time_s"] - r["arrival_time_s"]
    r["e2e_s"] = r["finish_time_s"] - r["arrival_time_s"]
    r["tpot_s"] = np.array([(2.5 - 0.5) / 4, np.nan])
    assert set(r) == set(RECORD_COLUMNS)
    return r


STATS = RunStats(end_s=4.0, steps=40, token_block_executions=300, busy_s=(2.0, 3.0),
                 lookup_busy_s=0.4, kv_utilisation_mean=0.25, kv_utilisation_peak=0.5)


def test_the_summary_of_a_plain_run():
    s = summarize(records(), STATS, num_layers=30)
    assert s["duration_s"] == 4.0 and s["completed"] == 2
    assert s["output_throughput_tok_per_s"] == pytest.approx(6 / 4)
    assert s["gpu_busy_fraction"] == pytest.approx(2.5 / 4)  # mean over devices
    assert s["layers_per_decode_token"] == pytest.approx(100 / 4)
    assert s["skipped_layer_fraction"] == pytest.approx(20 / 120)
    assert s["lookup_busy_fraction"] == pytest.approx(0.1)
    assert s["expected_agreement"] == pytest.approx((0.8 * 5 + 1.0) / 6)  # per output token
    assert (s["steps"], s["preemptions"], s["kv_utilisation_peak"]) == (40, 2, 0.5)
    assert s["tpot_s"]["mean"] == pytest.approx(0.5)  # the 1-token request has none
    assert "goodput_per_s" not in s


def test_goodput_counts_requests_within_every_slo():
    s = summarize(records(), STATS, 30, slo_ttft_s=0.6, slo_e2el_s=2.6)
    # request 0: ttft 0.5, e2e 2.5 -> ok; request 1: ttft 1.0 -> missed
    assert s["slo_attainment"] == 0.5 and s["goodput_per_s"] == pytest.approx(1 / 4)
