"""metarep.studies.few_shot: F_P of many states, repeated Monte Carlo, support sweeps and their
read-outs, transfer between support sizes."""

import jax
import numpy as np
import pytest

from metarep import analysis, metaloss, support, sweep
from metarep.config import Config
from metarep.initial import initial_weights
from metarep.studies import few_shot as fs

CFG = Config(K=2, M=2, N=100, eta_in=0.8, v_mean=0.5, v_std=1.0, label_noise=0.1,
             Q0=0.04 * np.eye(2), R0=0.05 * np.eye(2), alpha_max=4.0, record_every=0.5,
             dt=0.2)


def _states(n=2, seed=0):
    rng = np.random.default_rng(seed)
    X = 0.7 * rng.standard_normal((n, 2, 4))        # W = X [B; Z], T = I
    return X @ np.swapaxes(X, 1, 2), X[:, :, :2], rng.standard_normal((n, 2))


def test_support_errors_are_the_core_meta_losses():
    Q, R, a = _states()
    dist = metaloss.task_dist(CFG)
    got = fs.support_errors(Q, R, a, dist, 0.8, 1, [2, 5, "inf"])
    assert got.shape == (2, 3)
    for i in range(2):
        for j, P in enumerate((2, 5)):
            want = support.meta_test_error(Q[i], R[i], a[i], dist, 0.8, 1,
                                           support.draws(P, 2, 2))
            np.testing.assert_allclose(got[i, j], float(want), rtol=1e-12)
        np.testing.assert_allclose(got[i, 2], float(metaloss.meta_test_error(
            Q[i], R[i], a[i], dist, 0.8, 1)), rtol=1e-12)
    # eq-fs-s1: for one inner step F_P − F is exactly proportional to 1/P, and positive
    scaled = np.array([2, 5]) * (got[:, :2] - got[:, 2:])
    assert np.all(scaled > 0)
    np.testing.assert_allclose(scaled[:, 0], scaled[:, 1], rtol=1e-9)


def test_step_errors_trace_the_step_count_and_match_static_step_counts():
    """One program per P for every S (S traced, a loop of dynamic length) gives the errors of
    the static-S programs: unrolled (S ≤ 8) and fori_loop (S = 12) inner loops, the exact S ≤ 1
    path (whose remainder the traced version averages: zero to rounding) and P = ∞."""
    Q, R, a = _states()
    dist = metaloss.task_dist(CFG)
    grid = [0, 1, 2, 5, 12]
    got = fs.step_errors(Q, R, a, dist, 0.8, grid, [3, "inf"])
    assert got.shape == (2, 2, len(grid))
    for k, S in enumerate(grid):
        want = fs.support_errors(Q, R, a, dist, 0.8, S, [3, "inf"])
        np.testing.assert_allclose(got[:, :, k], want, rtol=1e-12, atol=1e-14)
    # other fixed support sets change the S >= 2 estimates only (S <= 1 and P = ∞ are exact)
    other = fs.step_errors(Q, R, a, dist, 0.8, grid, [3, "inf"], seed=1)
    np.testing.assert_allclose(other[:, :, :2], got[:, :, :2], rtol=1e-12)
    np.testing.assert_array_equal(other[:, 1], got[:, 1])
    assert np.all(other[:, 0, 2:] != got[:, 0, 2:])


def test_monte_carlo_repeats_are_independent_and_reproducible():
    B, W, a = initial_weights(CFG)
    key = jax.random.PRNGKey(3)
    one = fs.monte_carlo(CFG, W, B, a, [2, "inf"], key, repeats=3, n_tasks=50)
    two = fs.monte_carlo(CFG, W, B, a, [2, "inf"], key, repeats=3, n_tasks=50)
    assert one.shape == (3, 2) and np.all(np.isfinite(one)) and np.all(one > 0)
    np.testing.assert_array_equal(one, two)
    assert len(np.unique(one[:, 0])) == 3 and len(np.unique(one[:, 1])) == 3


def _synthetic_runs():
    """Two supports × three rates × five records, with known read-outs."""
    alpha = np.linspace(0.0, 4.0, 5)
    spec = np.array([[[0.0, 0.2, 0.4, 0.6, 0.8], [0.0, 0.6, 0.8, 0.9, 1.0], [0.0] * 5],
                     [[0.0, 0.4, 0.6, 0.8, 0.9], [0.0, 0.8, 0.9, 1.0, 1.0], [0.0] * 5]])
    eg = np.stack([np.stack([np.linspace(0.5, f, 5) for f in row])
                   for row in ([0.3, 0.2, np.nan], [0.25, 0.1, 0.15])])
    Q, R, a = _states(2 * 3 * 5)
    shape = (2, 3, 5)
    return fs.SupportRuns((2, "inf"), np.array([0.5, 1.0, 2.0]), alpha, eg, spec,
                          Q.reshape(*shape, 2, 2), R.reshape(*shape, 2, 2), a.reshape(*shape, 2),
                          np.zeros((2, 3)), CFG)


def test_support_runs_read_outs():
    runs = _synthetic_runs()
    assert runs.index(1.0) == 1
    with pytest.raises(ValueError, match="not in the grid"):
        runs.index(1.5)
    times = runs.specialization_times()
    np.testing.assert_allclose(times[:, :2], [[2.5, 0.5 / 0.6], [1.5, 0.625]])
    assert np.all(np.isinf(times[:, 2]))
    eta, err = runs.best_rates()                 # NaN (diverged) runs never win
    np.testing.assert_array_equal(eta, [1.0, 1.0])
    np.testing.assert_allclose(err, [0.2, 0.1])
    traj = runs.trajectory(1, 2)
    assert traj.config.support == "inf" and traj.config.eta_in == 2.0
    np.testing.assert_array_equal(traj.eg, runs.eg[1, 2])


def test_support_runs_is_one_sweep_per_support():
    runs = fs.support_runs(CFG, ["inf"], [0.5, 1.0])
    ref = sweep.sweep(CFG, {"eta_in": [0.5, 1.0]})
    np.testing.assert_array_equal(runs.eg[0], ref.eg)
    np.testing.assert_array_equal(runs.Q[0], ref.Q)
    np.testing.assert_array_equal(runs.specialization[0], ref.observables["specialization"])
    np.testing.assert_array_equal(runs.specialization_times()[0],
                                  analysis.specialization_time(ref.alpha,
                                                               ref.observables["specialization"]))


def test_transfer_errors_test_the_final_states():
    runs = _synthetic_runs()
    dist = metaloss.task_dist(CFG)
    got = fs.transfer_errors(runs, 1, dist, [2, "inf"])
    want = fs.support_errors(runs.Q[:, 1, -1], runs.R[:, 1, -1], runs.a[:, 1, -1], dist, 1.0,
                             CFG.inner_steps, [2, "inf"])
    np.testing.assert_array_equal(got, want)
