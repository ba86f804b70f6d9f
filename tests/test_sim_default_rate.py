"""The default request rate is a stable operating point: probes back off
from the saturation probe's rate until the queue stays level, and a run at
the chosen rate does not overload the server."""

import numpy as np

from simulator.config import SimConfig
from simulator.default_rate import choose_rate, in_system_at_arrivals, is_level, queue_levels
from simulator.run import Setup, simulate
from skipsim.cli import main
from traces.loaders import TraceConfig, load_trace

WORKLOAD = dict(num_prompts=200, prompt_tokens=256, output_tokens=64, seed=0)


def test_requests_in_system_count_arrived_minus_finished():
    arrival = np.array([0.0, 1.0, 2.0, 3.0])
    finish = np.array([0.5, 5.0, 2.5, 10.0])
    # before t=2: request 0 finished (0.5), 1 still runs; before t=3: 2 finished too
    assert in_system_at_arrivals(arrival, finish).tolist() == [0, 0, 1, 1]


def test_a_growing_queue_is_not_level():
    n = 400
    arrival = np.arange(n, dtype=float)
    level = {"arrival_time_s": arrival, "finish_time_s": arrival + 10.5}  # 10 in system
    growing = {"arrival_time_s": arrival, "finish_time_s": 2.0 * arrival + 1.0}  # i/2 in system
    assert queue_levels(level) == (10.0, 10.0) and is_level(*queue_levels(level))
    assert not is_level(*queue_levels(growing))


def test_default_rate_run_is_not_overloaded():
    cfg = SimConfig()  # skipping on, deepest-first: batches split at partial load
    setup = Setup(cfg)
    unit = load_trace("uniform", TraceConfig(request_rate_per_s=1.0, **WORKLOAD))
    choice = choose_rate(unit, cfg, 0.8, setup)
    assert choice.probes[-1].stable
    trace = load_trace("uniform", TraceConfig(request_rate_per_s=choice.rate_per_s, **WORKLOAD))
    records = simulate(trace, cfg, setup=setup).records
    assert is_level(*queue_levels(records))
    served = len(trace) / float(np.max(records["finish_time_s"]))
    assert served >= 0.9 * choice.rate_per_s
    # the test that blessed that rate tells overload apart: twice the saturation
    # probe's rate (above any sustainable one) makes the queue grow
    over = load_trace("uniform", TraceConfig(request_rate_per_s=2 * choice.saturation_per_s,
                                              **WORKLOAD))
    assert not is_level(*queue_levels(simulate(over, cfg, setup=setup).records))


def test_cli_prints_the_chosen_rate_and_no_overload_warning(tmp_path, capsys):
    code = main(["run", "--trace", "uniform", "--num-prompts", "120", "--prompt-tokens", "256",
                 "--output-tokens", "64", "--no-progress", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "request rate:" in err and "of the simulated capacity" in err
    # the chosen probe is described by what its queue did, never a grown queue called stable
    assert "level (" in err or "within short-probe noise" in err
    assert "stable" not in err
    assert "overloaded" not in err
