"""The simulator's hot path never folds a `TokenQueue` into its dict: batches
enter a queue as one segment and leave it whole (`take_all`). A fold is a
per-member operation, taken only where the scheduler took part of a queue
(`fill_batch` when a batch would exceed max_num_seqs or max_batched_tokens)
or a request was preempted; a stray dict-style access in the engine (a
membership test, an iteration, a per-member delete) would fold every step
and silently undo the batching, and these runs would count it."""

import math

import pytest

import policies.schedulers.base as schedulers
from simulator.config import SimConfig
from simulator.run import simulate
from simulator.token_queue import TokenQueue
from traces.loaders import TraceConfig, load_trace

STRESS = dict(checkpoints="5,5,5,5,5,5", skip_model="parametric",
              skip_options={"hit_rates": "0.15"})


@pytest.mark.parametrize("extra", [{}, STRESS], ids=["default", "stress"])
def test_a_saturated_run_folds_only_where_the_scheduler_took_part_of_a_queue(
        extra, monkeypatch):
    select, partial = schedulers.Scheduler.select, []

    def counting(self, queues, step):
        sel = select(self, queues, step)
        if sel is not None:
            whole = len(next(q for q in queues if q.block == sel.block).request_ids)
            partial.append(len(sel.request_ids) < whole)
        return sel

    monkeypatch.setattr(schedulers.Scheduler, "select", counting)
    monkeypatch.setattr(TokenQueue, "folds", 0)
    trace = load_trace("uniform", TraceConfig(num_prompts=300, request_rate_per_s=math.inf,
                                              seed=3, prompt_tokens=128, output_tokens=64))
    result = simulate(trace, SimConfig(**extra))
    assert result.records["preemptions"].sum() == 0  # else a preemption may fold too
    steps = len(partial)
    assert steps == result.stats.steps and steps > 500  # every step went through `select`
    # few partial batches (the first prefills), so a fold per step would show
    assert TokenQueue.folds <= sum(partial) < steps / 20
