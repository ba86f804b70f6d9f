"""With skipping off, batch size 1 and FCFS, the simulator is an M/G/1 queue:
its mean wait must match Pollaczek–Khinchine, W = λ·E[S²] / (2(1 − ρ))
(Kleinrock, Queueing Systems I, eq. 5.65), and each request's wait must
follow Lindley's recursion W_{n+1} = max(0, W_n + S_n − A_{n+1}) exactly.

Every request has a 1-token prompt and 1 output token, so its service is one
block step (one block of 30 layers; LM head free) and its wait is TTFT − S.
The PK runs are long because the mean wait's standard error decays slowly
at high load: at ρ = 0.8 (M/M/1) the asymptotic variance of the sample mean
of n waits is ≈ 1976·S²/n (Whitt 1989, "Planning queueing simulations"), so
a 2σ error under 3% needs n ≈ 5·10⁵; those runs are marked slow.
"""

import numpy as np
import pytest
from sim_helpers import ServiceCost, make_trace, run_with

from traces.arrivals import gamma_arrivals

SERVICE_S = 1.0
SINGLE = dict(checkpoints="30", policy="fcfs", skip_model="no-skip", max_num_seqs=1)


def _simulate_queue(rho, exponential, n, monkeypatch, seed=0):
    arrivals = gamma_arrivals(n, rho / SERVICE_S, 1.0, np.random.default_rng([seed, 1]))
    cost = ServiceCost(SERVICE_S, exponential, seed)
    res = run_with(cost, make_trace(arrivals, np.ones(n, int), np.ones(n, int)), monkeypatch,
                   **SINGLE)
    service = np.asarray(cost.draws)  # one block step per request, in FCFS order
    waits = res.records["ttft_s"] - service
    return arrivals, service, waits


def _pk_wait(rho, exponential):
    second_moment = (2.0 if exponential else 1.0) * SERVICE_S**2
    return (rho / SERVICE_S) * second_moment / (2 * (1 - rho))


@pytest.mark.parametrize("exponential", [False, True], ids=["M/D/1", "M/M/1"])
def test_waits_follow_lindley_exactly(exponential, monkeypatch):
    arrivals, service, waits = _simulate_queue(0.8, exponential, 3000, monkeypatch)
    expected = np.zeros_like(waits)
    for i in range(1, len(waits)):
        expected[i] = max(0.0, expected[i - 1] + service[i - 1] - (arrivals[i] - arrivals[i - 1]))
    np.testing.assert_allclose(waits, expected, atol=1e-7)


@pytest.mark.parametrize("rho,exponential,n", [
    (0.5, False, 60_000),
])
def test_mean_wait_matches_pollaczek_khinchine_fast(rho, exponential, n, monkeypatch):
    _, _, waits = _simulate_queue(rho, exponential, n, monkeypatch)
    assert waits.mean() == pytest.approx(_pk_wait(rho, exponential), rel=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("rho,exponential,n", [
    (0.5, True, 200_000),
    (0.8, False, 300_000),
    (0.8, True, 600_000),
], ids=["M/M/1-0.5", "M/D/1-0.8", "M/M/1-0.8"])
def test_mean_wait_matches_pollaczek_khinchine(rho, exponential, n, monkeypatch):
    _, _, waits = _simulate_queue(rho, exponential, n, monkeypatch)
    assert waits.mean() == pytest.approx(_pk_wait(rho, exponential), rel=0.03)
