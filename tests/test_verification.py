"""metarep.verification: drift comparison, trajectory deviation and finite-size analysis.

Fast checks on small deterministic inputs: the bookkeeping (entry order, z-scores, RMS and its
standard error, fits) against direct computations, and the drift comparison on a tiny system
(few hundred steps; its statistical agreement is the subject of tests/test_drift.py).
"""

import numpy as np
import pytest

from metarep import ode
from metarep.config import Config
from metarep.trajectory import Trajectory
from metarep import verification as V

CFG = Config(K=2, M=2, N=200, eta=1.0, eta_in=0.5, eta_head=0.5, v_mean=1.0, v_std=0.5,
             label_noise=0.1, alpha_max=1.0, record_every=0.5,
             Q0=((0.5, 0.1), (0.1, 0.4)), R0=((0.3, 0.1), (0.1, 0.2)), a0=(0.2, 0.1))


def test_entry_names_and_flatten_agree():
    K, M = 3, 2
    rng = np.random.default_rng(0)
    Q = rng.normal(size=(4, K, K))
    R, a = rng.normal(size=(4, K, M)), rng.normal(size=(4, K))
    flat = V.flatten_entries(Q, R, a)
    names = V.entry_names(K, M)
    assert flat.shape == (4, len(names)) == (4, 6 + 6 + 3)
    for j, name in enumerate(names):
        sym, *idx = name.split("_")
        want = {"Q": Q, "R": R, "a": a}[sym][(slice(None), *map(int, idx))]
        np.testing.assert_array_equal(flat[:, j], want)


def test_drift_comparison_bookkeeping():
    comp = V.drift_comparison(CFG, 400, key=0, label="tiny")
    assert comp.names == V.entry_names(2, 2) and comp.n_samples == 400
    theory = ode.rhs((CFG.Q0_array, CFG.R0_array, CFG.a0_array), CFG)
    np.testing.assert_allclose(comp.theory, V.flatten_entries(*theory), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(comp.z, (comp.mean - comp.theory) / comp.sem)
    assert np.all(comp.sem > 0)
    # 400 steps: a loose sanity bound only (the statistical test lives in test_drift.py)
    assert np.all(np.abs(comp.z) < 5)


def _traj(eg, Q, R, a, seeds=None, cfg=CFG):
    alpha = np.linspace(0.0, 1.0, np.shape(eg)[-1])
    return Trajectory(alpha, Q, R, a, eg, seeds=seeds, config=cfg)


def test_trajectory_deviation_matches_direct_computation():
    rng = np.random.default_rng(1)
    n, s = 3, 5
    Q0 = np.tile(np.array([[0.5, 0.1], [0.1, 0.4]]), (n, 1, 1))
    R0 = np.tile(np.array([[0.3, 0.1], [0.1, 0.2]]), (n, 1, 1))
    a0 = np.tile(np.array([0.2, 0.1]), (n, 1))
    theory = _traj(V.state_error(_traj(np.zeros(n), Q0, R0, a0)), Q0, R0, a0)
    sims = {}
    for N, scale in ((100, 0.04), (400, 0.02)):
        dQ = scale * rng.normal(size=(s, n, 2, 2))
        dQ = dQ + np.swapaxes(dQ, -1, -2)
        dR = scale * rng.normal(size=(s, n, 2, 2))
        eg = theory.eg + scale * rng.normal(size=(s, n))
        a = np.broadcast_to(a0, (s, n, 2))
        sims[N] = _traj(eg, Q0 + dQ, R0 + dR, a, seeds=np.arange(s))
    dev = V.trajectory_deviation(theory, sims)
    np.testing.assert_array_equal(dev.N, [100, 400])
    for i, N in enumerate((100, 400)):
        iu = np.triu_indices(2)
        d = np.concatenate([(sims[N].Q - Q0)[..., iu[0], iu[1]].reshape(s, -1),
                            (sims[N].R - R0).reshape(s, -1)], axis=1)
        assert dev.overlap_rms[i] == pytest.approx(np.sqrt(np.mean(d**2)))
        ms = np.mean(d**2, axis=1)
        assert dev.overlap_rms_se[i] == pytest.approx(
            ms.std(ddof=1) / np.sqrt(s) / (2 * np.sqrt(ms.mean())))
        mean_dev = sims[N].eg.mean(0) - theory.eg
        assert dev.eg_dev[i] == pytest.approx(np.abs(mean_dev).max())
        se = sims[N].eg.std(0, ddof=1) / np.sqrt(s)
        assert dev.eg_z[i] == pytest.approx(np.max(np.abs(mean_dev) / se))
        F = V.state_error(sims[N])
        assert dev.state_rms[i] == pytest.approx(np.sqrt(np.mean((F - theory.eg) ** 2)))
    with pytest.raises(ValueError, match="other times"):
        V.trajectory_deviation(theory, {100: sims[100].replace(alpha=sims[100].alpha + 0.1)})


def test_state_error_is_the_closed_form_meta_test_error():
    traj = ode.integrate(CFG)
    np.testing.assert_allclose(V.state_error(traj), traj.eg, rtol=1e-12)


def test_loglog_slope_recovers_power_law():
    N = np.array([100.0, 400.0, 1600.0])
    y = 3.0 * N**-0.5
    slope, se = V.loglog_slope(N, y, 0.05 * y)
    assert slope == pytest.approx(-0.5, abs=1e-12)
    # s.e. of the slope for equal relative errors r: r / sqrt(sum (ln N - mean)^2)
    lx = np.log(N)
    assert se == pytest.approx(0.05 / np.sqrt(np.sum((lx - lx.mean()) ** 2)))


def _finite_size_fixture():
    """Runs at two N that start from perturbed states of CFG; the 'runs' are ODE integrations
    from those starts plus a known deviation 1/√N, so that every quantity is known."""
    rng = np.random.default_rng(2)
    sims = {}
    for N in (100, 400):
        Qs, Rs, As, egs = [], [], [], []
        for s in range(3):
            R0 = CFG.R0_array + 0.05 * rng.normal(size=(2, 2))
            run = ode.integrate(CFG, state0=(CFG.Q0_array, R0, CFG.a0_array))
            bump = np.where(run.alpha > 0, 1 / np.sqrt(N), 0.0)[:, None, None]
            Qs.append(run.Q + bump)
            Rs.append(run.R)
            As.append(run.a)
            egs.append(run.eg)
        sims[N] = Trajectory(run.alpha, np.stack(Qs), np.stack(Rs), np.stack(As), np.stack(egs),
                             seeds=np.arange(3), config=CFG)
    return sims


def test_finite_size_against_known_deviation():
    sims = _finite_size_fixture()
    fs = V.finite_size(sims, window=1.0)
    # every Q entry (3 of the 7 Q, R entries) is off by exactly 1/√N after α = 0
    for i, N in enumerate((100, 400)):
        np.testing.assert_allclose(fs.dev_curve[i][1:], np.sqrt(3 / 7 / N), rtol=1e-9)
        records = len(fs.alpha)
        assert fs.dev[i] == pytest.approx(np.sqrt(3 / 7 / N * (records - 1) / records),
                                          rel=1e-9)
        assert fs.t_sim[i].shape == (3,) and fs.spec_sim[i].shape == (3, records)
    # the specialization index of the ODE from a run's start equals the run's when R agrees
    np.testing.assert_allclose(fs.spec_ode[0][:, 0], fs.spec_sim[0][:, 0], rtol=1e-12)


def test_plateau_fit_recovers_log_law():
    t = {100: np.array([5.0, 5.2, 4.8]), 400: np.array([6.0, 6.2, 5.8]),
         1600: np.array([7.0, 7.2, 6.8])}
    fs = V.FiniteSize(np.array([100.0, 400.0, 1600.0]), np.zeros(1), 1.0, [], np.ones(3),
                      np.ones(3), list(t.values()), list(t.values()), [], [])
    B, B_se, c = fs.plateau_fit("sim")
    assert B == pytest.approx(1 / np.log(4)) and B_se > 0
    assert c == pytest.approx(5.0 - np.log(100) / np.log(4))
    with pytest.raises(ValueError, match="never specialize"):
        V.FiniteSize(fs.N, fs.alpha, 1.0, [], fs.dev, fs.dev_se,
                     [np.array([np.inf, 1.0])] * 3, [], [], []).plateau_fit("sim")
