"""metarep.studies.verification: the drift comparison and the deviation of simulated
trajectories from the ODE.

Fast checks on small deterministic inputs: the bookkeeping (entry order, z-scores, RMS and its
standard error) against direct computations, and the drift comparison on a tiny system (few
hundred steps; its statistical agreement is the subject of tests/test_drift.py).
"""

import numpy as np
import pytest

from metarep import analysis as an
from metarep import drift, ode
from metarep.config import Config
from metarep.linear import coordinate_names, state_vector
from metarep.studies import verification as V
from metarep.trajectory import Trajectory

CFG = Config(K=2, M=2, N=200, eta=1.0, eta_in=0.5, eta_head=0.5, v_mean=1.0, v_std=0.5,
             label_noise=0.1, alpha_max=1.0, record_every=0.5,
             Q0=((0.5, 0.1), (0.1, 0.4)), R0=((0.3, 0.1), (0.1, 0.2)), a0=(0.2, 0.1))


def test_drift_comparison_bookkeeping():
    comp = V.drift_comparison(CFG, 400, key=0, label="tiny")
    assert comp.names == coordinate_names(2, 2) and comp.n_samples == 400
    assert comp.label == "tiny"
    theory = drift.rhs((CFG.Q0_array, CFG.R0_array, CFG.a0_array), CFG)
    np.testing.assert_allclose(comp.theory, state_vector(*theory), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(comp.z, (comp.mean - comp.theory) / comp.sem)
    assert np.all(comp.sem > 0)
    # 400 steps: a loose sanity bound only (the statistical test lives in test_drift.py)
    assert np.all(np.abs(comp.z) < 5)


def _traj(eg, Q, R, a, seeds=None, cfg=CFG, T=None):
    alpha = np.linspace(0.0, 1.0, np.shape(eg)[-1])
    return Trajectory(alpha, Q, R, a, eg, seeds=seeds, config=cfg, T=T)


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
        F = V.state_error(sims[N])
        assert dev.state_rms[i] == pytest.approx(np.sqrt(np.mean((F - theory.eg) ** 2)))
    for which in ("overlaps", "error"):
        slope, se = dev.slope(which)
        assert np.isfinite(slope) and se > 0
    with pytest.raises(ValueError, match="other times"):
        V.trajectory_deviation(theory, {100: sims[100].replace(alpha=sims[100].alpha + 0.1)})
    with pytest.raises(ValueError, match="overlaps"):
        dev.slope("eg")
    # the bias law: records after α = 0, the fit of the deviations of F and of N times them
    law = V.bias_law(theory, sims)
    np.testing.assert_array_equal(law.N, [100, 400])
    np.testing.assert_array_equal(law.alpha, theory.alpha[1:])
    d = {N: (V.state_error(sims[N]) - theory.eg)[:, 1:] for N in (100, 400)}
    ref = an.size_fit(d)
    np.testing.assert_allclose(law.fit.slope, ref.slope, rtol=1e-12)
    np.testing.assert_allclose(law.fit.limit, ref.limit, rtol=1e-10, atol=1e-14)
    scaled, scaled_se = law.scaled
    np.testing.assert_allclose(scaled[1], 400 * d[400].mean(0), rtol=1e-12)
    np.testing.assert_allclose(scaled_se[0], 100 * d[100].std(0, ddof=1) / np.sqrt(s),
                               rtol=1e-12)


def test_drift_stats_feed_the_size_fit():
    comp = V.drift_comparison(CFG, 300, key=1)
    st = comp.stats()
    np.testing.assert_array_equal(st.mean, comp.mean)
    np.testing.assert_array_equal(st.sem, comp.sem)
    assert np.all(st.n == 300)
    small = V.drift_comparison(CFG.replace(N=50), 300, key=2)
    fit = an.size_fit({50: small.stats(), 200: st})
    np.testing.assert_allclose(fit.slope, (small.mean - comp.mean) / (1 / 50 - 1 / 200))


def test_state_error_is_the_closed_form_meta_test_error():
    traj = ode.integrate(CFG)
    np.testing.assert_allclose(V.state_error(traj), traj.eg, rtol=1e-12)


def test_state_error_uses_each_seeds_teacher():
    """With per-seed T (a Gaussian teacher), seed i's error is evaluated with its own T."""
    traj = ode.integrate(CFG)
    T = np.stack([np.eye(2), np.diag([1.3, 0.8])])
    two = Trajectory(traj.alpha, np.stack([traj.Q] * 2), np.stack([traj.R] * 2),
                     np.stack([traj.a] * 2), np.stack([traj.eg] * 2), seeds=np.arange(2),
                     config=CFG, T=T)
    F = V.state_error(two)
    np.testing.assert_allclose(F[0], traj.eg, rtol=1e-12)
    np.testing.assert_allclose(F[1], V.state_error(traj.replace(T=T[1])), rtol=1e-12)
    assert np.abs(F[1] - F[0]).max() > 1e-3


def test_simulator_error_estimate_is_the_closed_form():
    """The simulator's Monte-Carlo meta-test error of a microscopic state (fresh tasks, fresh
    test samples; the chapter uses the closed form instead) agrees with the closed form
    F(Q, R, a) of that state's overlaps: two-sided z-test at the rate 10⁻³ (|z| < 3.29), for
    S = 1 and S = 2 with a teacher spread."""
    import jax
    from scipy import stats

    from metarep import metaloss, simulator
    from metarep.initial import initial_weights, overlaps

    z_max = stats.norm.isf(1e-3 / 4)          # two cases, two-sided: Bonferroni
    for cfg in (CFG, CFG.replace(inner_steps=2, teacher_spread=0.3)):
        B, W, a = initial_weights(cfg)
        Q, R, T = overlaps(W, B)
        mean, sem = simulator.meta_test_error_mc(cfg, W, B, a, jax.random.PRNGKey(7), 4000, 20)
        F = float(metaloss.meta_test_error(Q, R, a, metaloss.task_dist(cfg, T), cfg.eta_in,
                                           cfg.inner_steps))
        assert abs(mean - F) < z_max * sem, (mean, sem, F)
