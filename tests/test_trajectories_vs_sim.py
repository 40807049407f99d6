"""Trajectories: the ODE against the seed-averaged simulation, under the book's statistics
policy (book section ``sec-statistics``).

One configuration with everything switched on: K = 3 > M = 2, full meta-gradient, S = 2,
learned head, v̄ ≠ 0, σ_v = 0.5, teacher spread σ_B = 0.3, label noise σ = 0.1, from an
explicit, already asymmetric initial state (Q0, R0, a0) that the simulator realises exactly.
(From a tiny random initialisation the early symmetry breaking amplifies the O(1/√N)
fluctuations of each run, so single runs leave the mean-field curve by O(1) amounts that
shrink only like log N; that regime is the book's subject, not a convergence test.)

8 seeds up to α = 6 at N = 2000 (with the simulator's Monte-Carlo meta-test error at every
record) and at N = 500 (order parameters only). Checks, each at the family-wise false-alarm
rate 10⁻³ (3 × 10⁻³ for the module):

* the simulator's Monte-Carlo meta-test error is an unbiased estimate of the closed-form error
  F of each run's own state (exactly, at any N: it draws the local fields from their exact law
  given the microscopic overlaps): Student-t over seeds, Holm over the records, no allowance;
* the seed mean of that Monte-Carlo error agrees with the ODE's F, within the finite-N bias
  measured from the two sizes (:func:`metarep.analysis.bias_allowance` of the closed-form
  errors at 500 and 2000, half the rate; :func:`metarep.analysis.agreement`, the other half);
* the gap shrinks as N grows: the RMS deviation of single runs' (Q, R) from the ODE scales like
  1/√N — the log-log slope between the two sizes is −1/2 (two-sided z-test, delta-method
  standard error) and negative beyond its one-sided bound.
"""

import numpy as np
import pytest
from scipy import stats

from metarep import ode, simulator
from metarep.analysis import agreement, bias_allowance, loglog_slope, rms_over_seeds
from metarep.config import Config

SEEDS = 8
FALSE_ALARM = 1e-3
CFG = Config(K=3, M=2, N=2000, eta=1.0, eta_in=1.0, eta_head=1.0, inner_steps=2, v_mean=1.0,
             v_std=0.5, teacher_spread=0.3, label_noise=0.1, alpha_max=6.0, record_every=1.5,
             Q0=((1.0, 0.2, 0.1), (0.2, 0.8, -0.1), (0.1, -0.1, 1.2)),
             R0=((0.6, 0.1), (0.2, 0.5), (0.3, 0.3)), a0=(0.5, -0.3, 0.8))


@pytest.fixture(scope="module")
def runs():
    theory = ode.integrate(CFG)
    sims = {500: simulator.simulate(CFG.replace(N=500), seeds=SEEDS, progress=False,
                                    eg_tasks=0),
            2000: simulator.simulate(CFG, seeds=SEEDS, progress=False)}
    for sim in sims.values():
        np.testing.assert_allclose(sim.alpha, theory.alpha)
    return theory, sims


def test_monte_carlo_error_is_the_closed_form_of_the_state(runs):
    _, sims = runs
    sim = sims[2000]
    ag = agreement(sim.eg - sim.state_error(), 0.0, 0.0, FALSE_ALARM)
    assert ag.ok, (ag.t, ag.p)


def test_meta_test_error_agrees(runs):
    theory, sims = runs
    # records after α = 0 (there every run is exactly at the explicit start)
    devs = {N: (sim.state_error() - theory.eg)[:, 1:] for N, sim in sims.items()}
    allowance = bias_allowance(devs, N=2000, false_alarm=FALSE_ALARM / 2)
    ag = agreement(sims[2000].eg[:, 1:], theory.eg[1:], allowance, FALSE_ALARM / 2)
    assert ag.ok, (ag.t, ag.p, allowance)


def test_gap_shrinks_with_n(runs):
    theory, sims = runs
    sizes = sorted(sims)

    def deviation(sim):
        return np.concatenate([(sim.Q - theory.Q)[:, 1:].reshape(SEEDS, -1),
                               (sim.R - theory.R)[:, 1:].reshape(SEEDS, -1)], axis=1)

    rms, se = zip(*(rms_over_seeds(deviation(sims[N])) for N in sizes))
    slope, slope_se = loglog_slope(sizes, rms, se)
    assert abs(slope + 0.5) < stats.norm.isf(FALSE_ALARM / 4) * slope_se, (slope, slope_se)
    assert slope + stats.norm.isf(FALSE_ALARM / 2) * slope_se < 0, (slope, slope_se)
