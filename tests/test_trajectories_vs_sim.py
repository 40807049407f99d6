"""Trajectories: the ODE against the seed-averaged simulation, under the book's statistics
policy (book section ``sec-statistics``).

One configuration with everything switched on: K = 3 > M = 2, full meta-gradient, S = 2,
learned head, v̄ ≠ 0, σ_v = 0.5, teacher spread σ_B = 0.3, label noise σ = 0.1, from an
explicit, already asymmetric initial state (Q0, R0, a0) that the simulator realises exactly.
(From a tiny random initialisation the early symmetry breaking amplifies the O(1/√N)
fluctuations of each run, so single runs leave the mean-field curve by O(1) amounts that
shrink only like log N; that regime is the book's subject, not a convergence test.)

8 seeds up to α = 6 at N = 500 and N = 2000, order parameters only (``eg_tasks=0``: the
error of a run is the closed form F of its recorded state; that the simulator's Monte-Carlo
estimate of the error is F of the state, for this very configuration's features, is
``tests/test_studies_verification.py::test_simulator_error_estimate_is_the_closed_form``).
Checks, each at the family-wise false-alarm rate 10⁻³ (2 × 10⁻³ for the module):

* the seed means of the runs' deviations from the ODE — the meta-test error of their states
  and every entry of Q and R, at every record after α = 0 — extrapolated from the two sizes
  along limit + β/N to N → ∞ are zero (:func:`metarep.analysis.size_agreement`: the finite-N
  bias measured, not guessed; Student-t with Welch degrees of freedom, Holm over all entries);
* the gap shrinks as N grows: the RMS deviation of single runs' (Q, R) from the ODE scales like
  1/√N — the log-log slope between the two sizes is −1/2 (two-sided z-test, delta-method
  standard error) and negative beyond its one-sided bound.
"""

import numpy as np
import pytest
from scipy import stats

from metarep import ode, simulator
from metarep.analysis import loglog_slope, rms_over_seeds, size_agreement
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
    sims = {N: simulator.simulate(CFG.replace(N=N), seeds=SEEDS, progress=False, eg_tasks=0)
            for N in (500, 2000)}
    for sim in sims.values():
        np.testing.assert_allclose(sim.alpha, theory.alpha)
    return theory, sims


def test_seed_means_extrapolate_to_the_ode(runs):
    theory, sims = runs
    # records after α = 0 (there every run is exactly at the explicit start)
    devs = {N: np.concatenate([(sim.state_error() - theory.eg)[:, 1:, None],
                               (sim.Q - theory.Q)[:, 1:].reshape(SEEDS, -1, CFG.K**2),
                               (sim.R - theory.R)[:, 1:].reshape(SEEDS, -1, CFG.K * CFG.M)],
                              axis=2)
            for N, sim in sims.items()}
    ag = size_agreement(devs, 0.0, FALSE_ALARM)
    assert ag.ok, (ag.t, ag.p)


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
