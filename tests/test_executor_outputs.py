"""A real run's outputs: the simulator's record schema (measured agreement in
expected_agreement), decisions the `replay` skip model reads back, the step
log, and real routers (a tiny knn bank) deciding on the run's hidden states."""

import json

import numpy as np
import pandas as pd

from executor.config import ExecConfig
from executor.outputs import write_all
from executor.routers import RouterSkipMode
from executor.serve import Executor
from policies.routers.base import SkipExamples, make_router
from simulator.config import SimConfig
from simulator.records import RECORD_COLUMNS
from simulator.skip_models.replay import ReplaySkipModel, read_decisions
from tests.exec_fakes import FakeClock, FakeRunner, FakeSetup, small_trace
from tests.test_executor_loop import LAYERS, PLAN, run

LABELS = {"model": "fake", "checkpoints": PLAN, "policy": "fcfs", "kv_policy": "project",
          "lookup_placement": "gpu", "cost_model": "fake", "skip_model": "random",
          "device": "cpu: test", "threads": 1, "dtype": "float64", "model_params": 1000,
          "agreement": "teacher-forced"}


def tiny_routers(plan, hidden, seed=0, n=40):
    """A knn router per inner checkpoint on random keys with random safe labels."""
    rng = np.random.default_rng(seed)
    routers = {}
    for at in plan.router_checkpoints:
        landings = tuple(range(at + 1, plan.num_blocks + 1))
        m = len(landings)
        ex = SkipExamples(at, landings, rng.normal(size=(n, hidden)).astype(np.float32),
                          np.zeros(n), np.zeros(n), rng.random((n, m)) < 0.5,
                          0.01 * rng.normal(size=(n, m, hidden)).astype(np.float32),
                          np.arange(n) % 4)
        routers[at] = make_router("knn", ex)
    return routers


def test_records_have_the_schema_and_decisions_replay(tmp_path, capsys):
    trace, prompts = small_trace([5, 8, 3], [6, 4, 5])
    ex, stats, _ = run(trace, prompts, "round-robin", "random", rates="0.4", exit_prob=0.2)
    sim = ex.cfg.sim
    paths = write_all(tmp_path, ex, stats, FakeSetup(sim, LAYERS), ex.cfg, LABELS,
                      {"request_rate_per_s": None}, "csv", None, None)
    assert {p.name for p in paths} >= {"requests.csv", "summary.json", "config.json",
                                       "steps.parquet", "decisions.csv", "tokens.jsonl"}
    records = pd.read_csv(tmp_path / "requests.csv")
    assert list(records.columns) == list(RECORD_COLUMNS)
    assert records["output_tokens"].tolist() == [6, 4, 5]
    toks = [json.loads(line) for line in (tmp_path / "tokens.jsonl").read_text().splitlines()]
    share = [np.mean(np.equal(t["tokens"], t["reference"])) for t in toks]
    assert np.allclose(records["expected_agreement"], share)  # measured, not assumed
    replay = ReplaySkipModel(ex.setup.plan, read_decisions(tmp_path / "decisions.csv"))
    assert replay.label.startswith("replay")
    steps = pd.read_parquet(tmp_path / "steps.parquet")
    assert (steps["end_s"] >= steps["start_s"]).all() and (steps["cost_model_s"] > 0).any()
    # one whole-step row per step, holding every piece of it in time, priced at
    # the per-step overhead once (the pieces are priced without it)
    whole = steps[steps["kind"] == "step"].set_index("step")
    pieces = steps[steps["kind"] != "step"]
    assert whole.index.is_unique and set(pieces["step"]) <= set(whole.index)
    span = pieces.groupby("step").agg(start=("start_s", "min"), end=("end_s", "max"))
    assert (whole.loc[span.index, "start_s"] <= span["start"]).all()
    assert (whole.loc[span.index, "end_s"] >= span["end"]).all()
    assert (whole["cost_model_s"] == ex.cost.step_overhead_s).all()
    layer_pieces = pieces[pieces["kind"].isin(["prefill", "block"])]
    assert (layer_pieces["layers"] > 0).all()
    prefill = pieces[pieces["kind"] == "prefill"]
    # prompts of 5, 8 and 3 tokens, unchunked, move through every block once
    # (full depth, block by block): per block, their tokens and causal pairs
    per_block = prefill.groupby("block").agg(tokens=("tokens", "sum"), pairs=("pairs", "sum"),
                                             layers=("layers", "first"))
    assert per_block.index.tolist() == list(range(ex.k))
    assert (per_block["tokens"] == 16).all() and (per_block["pairs"] == 15 + 36 + 6).all()
    assert per_block["layers"].sum() == LAYERS
    out = capsys.readouterr().out
    assert (out.startswith("skipsim REAL run (executor): fake") and "measured agreement" in out
            and "teacher-forced" in out)


def test_real_routers_skip_on_the_runs_hidden_states():
    trace, prompts = small_trace([6, 9, 4], [8, 8, 8])
    sim = SimConfig(checkpoints=PLAN, policy="deepest-first")
    cfg = ExecConfig(sim, skip_mode="router", check_integrity=True)
    runner = FakeRunner(LAYERS)
    setup = FakeSetup(sim, LAYERS)
    routers = tiny_routers(setup.plan, runner.hidden_size)
    thresholds = {at: 0.6 for at in routers}
    mode = RouterSkipMode(routers, thresholds, {at: 0.1 for at in routers}, "delta", "cpu",
                          "router: knn (test bank)")
    refs = [[0] * 8 for _ in prompts]
    clock = FakeClock()
    ex = Executor(trace, prompts, refs, runner, setup, cfg, mode, clock=clock, sleep=clock.sleep)
    ex.run()
    t = ex.t
    assert t.done.all() and t.generated.tolist() == [8, 8, 8]
    assert t.lookups.sum() > 0 and t.hits.sum() > 0
    # every decode token is looked up at checkpoint 1 unless it is still prefilling
    first = [d for d in ex.decisions if d[2] == 1]
    assert len(first) == sum(o - 1 for o in trace.output_tokens)
    # a hit is exactly a decision whose landing lies past its checkpoint
    assert t.hits.sum() == sum(1 for d in ex.decisions if d[3] > d[2])
    assert all(p == (0.1 if land > at else 0.0) for _, _, at, land, p in ex.decisions)


def test_ctrl_c_writes_the_finished_requests_and_counts_the_rest(tmp_path, capsys):
    trace, prompts = small_trace([5, 5], [3, 3], arrivals=np.array([0.0, 100.0]))
    sim = SimConfig(checkpoints=PLAN, policy="fcfs")
    cfg = ExecConfig(sim, skip_mode="no-skip", check_integrity=True)
    setup = FakeSetup(sim, LAYERS)
    clock = FakeClock()

    def interrupt(_seconds):  # Ctrl-C while waiting for the second arrival
        raise KeyboardInterrupt

    from executor.skip_modes import NoSkipMode
    ex = Executor(trace, prompts, [[0] * 3] * 2, FakeRunner(LAYERS), setup, cfg, NoSkipMode(),
                  clock=clock, sleep=interrupt)
    stats = ex.run()
    assert ex.interrupted and ex.t.done.tolist() == [True, False]
    write_all(tmp_path, ex, stats, setup, cfg, LABELS, {"request_rate_per_s": None}, "csv",
              None, None)
    assert pd.read_csv(tmp_path / "requests.csv")["request_id"].tolist() == [0]
    assert json.loads((tmp_path / "summary.json").read_text())["skipsim"]["cut_off"] == 1


def test_the_timeline_is_the_simulators_chrome_trace(tmp_path):
    from executor.skip_modes import make_skip_mode
    from simulator.timeline import Timeline

    trace, prompts = small_trace([5, 8], [4, 3])
    sim = SimConfig(checkpoints=PLAN, policy="fcfs")
    cfg = ExecConfig(sim, skip_mode="random")
    setup = FakeSetup(sim, LAYERS)
    mode = make_skip_mode("random", setup.plan, {"hit_rates": "0.5"}, {"seed": 0})
    clock, timeline = FakeClock(), Timeline(1)
    ex = Executor(trace, prompts, [[0] * 4] * 2, FakeRunner(LAYERS), setup, cfg, mode,
                  timeline=timeline, clock=clock, sleep=clock.sleep)
    ex.run()
    events = json.loads(timeline.write(tmp_path / "t.json").read_text())["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    assert {e["name"] for e in slices} >= {"prefill", "block 0", "block 3"}
    assert len(slices) == ex.steps and all(e["dur"] >= 0 for e in slices)


def test_reference_tokens_are_computed_once_and_read_as_prefixes(tmp_path):
    from executor.reference import cached_reference

    trace, prompts = small_trace([5, 8], [6, 3])
    runner = FakeRunner(LAYERS)
    first = cached_reference(tmp_path, runner, prompts, [6, 3])
    calls = dict(runner.calls)
    again = cached_reference(tmp_path, runner, prompts, [4, 3])  # shorter: a cached prefix
    assert runner.calls == calls  # nothing recomputed
    assert again == [first[0][:4], first[1]]
    longer = cached_reference(tmp_path, runner, prompts, [6, 5])  # longer: recomputed, same prefix
    assert longer[1][:3] == first[1] and len(longer[1]) == 5
