"""metarep.studies.task_variability: the teacher-spread error floor and the scans of one
configuration key."""

import numpy as np
import pytest

from metarep import metaloss, ode
from metarep.activation import g
from metarep.analysis import seed_stats, specialization_time
from metarep.config import Config
from metarep.studies import task_variability as var

from helpers import random_state, switching_run


@pytest.mark.parametrize("spread", [0.0, 0.2, 0.5, 0.9])
def test_floor_is_the_oracle_error_of_the_rescaled_teacher(spread):
    """eq-spread-floor = oracle error of the theory at Q = κ²I, R = κI (identity: 1e-12)."""
    cfg = Config(K=3, M=3, v_mean=(0.5, -1.0, 2.0), v_std=0.7, label_noise=0.3,
                 teacher_spread=spread)
    Q, R = var.floor_state(cfg)
    oracle = float(metaloss.oracle_error(Q, R, metaloss.task_dist(cfg)))
    assert abs(oracle - var.error_floor(spread, cfg.v_bar, cfg.v_std, 0.3)) < 1e-12


def test_floor_is_the_conditional_variance():
    """Monte Carlo: g(κν) is the conditional mean of g(cν + σ_B ξ) given ν (residual
    uncorrelated with ν and g(κν)), and the residual's mean square is the floor's bracket
    (per unit readout, no noise); bounds: 4 standard errors."""
    rng = np.random.default_rng(0)
    s = 0.6
    c, kappa = np.sqrt(1 - s**2), float(var.optimal_scale(s))
    nu, xi = rng.standard_normal((2, 400_000))
    res = np.asarray(g(c * nu + s * xi) - g(kappa * nu))
    for x in (nu, np.asarray(g(kappa * nu))):
        prod = res * x
        assert abs(prod.mean()) < 4 * prod.std() / np.sqrt(prod.size)
    sq = res**2 / 2
    want = var.error_floor(s, [1.0], 0.0)
    assert abs(sq.mean() - want) < 4 * sq.std() / np.sqrt(sq.size)


def test_floor_bounds_every_state():
    """F ≥ oracle ≥ floor at random admissible states (a theorem; rounding 1e-12)."""
    rng = np.random.default_rng(1)
    cfg = Config(K=2, M=2, v_mean=1.0, v_std=0.5, teacher_spread=0.4, label_noise=0.1)
    dist = metaloss.task_dist(cfg)
    floor = var.error_floor(0.4, cfg.v_bar, 0.5, 0.1)
    for _ in range(20):
        Q, R, a = random_state(rng)                # W = X [B; Z] with orthonormal directions
        F = float(metaloss.meta_test_error(Q, R, a, dist, 0.7, 2))
        oracle = float(metaloss.oracle_error(Q, R, dist))
        assert F >= oracle - 1e-12 and oracle >= floor - 1e-12


def test_optimal_scale_and_floor_limits():
    assert var.optimal_scale(0.0) == 1.0
    assert abs(var.error_floor(0.0, [1.0, 1.0], 0.5)) < 1e-15
    np.testing.assert_allclose(var.error_floor(np.array([0.0, 0.5]), [1.0], 0.0, 0.2),
                               [0.02, var.error_floor(0.5, [1.0], 0.0) + 0.02])
    with pytest.raises(ValueError, match="K = M"):
        var.floor_state(Config(K=3, M=2))


def test_specialization_of_runs_and_seeds():
    """The chapter reads the specialization of a run with analysis.specialization_time
    (interpolated: 4.5 for the run switching between the records α = 4 and 5, formerly the
    first record with s ≥ ½, 5.0; ∞ when never, formerly NaN) and the seed mean ± s.e. of
    Trajectory.specialization() (formerly simulation_specialization)."""
    one, three = switching_run(), switching_run(3)
    assert specialization_time(one.alpha, one.specialization()) == pytest.approx(4.5)
    np.testing.assert_allclose(specialization_time(three.alpha, three.specialization()), 4.5)
    assert np.isposinf(specialization_time(one.alpha, one.specialization(), level=1.1))
    mean, sem, n = seed_stats(three.specialization())
    np.testing.assert_allclose(mean, (np.arange(11) >= 5).astype(float), atol=1e-12)
    np.testing.assert_allclose(sem, 0.0, atol=1e-12)
    assert np.all(n == 3)


def test_scan_final_records_the_end_of_each_run():
    cfg = Config(K=2, M=2, alpha_max=2.0, record_every=1.0, dt=0.1, Q0=0.5 * np.eye(2),
                 R0=((0.4, 0.1), (0.1, 0.3)))
    scan, trajs = var.scan_final(cfg, "teacher_spread", [0.0, 0.3])
    ref = ode.integrate(cfg.replace(teacher_spread=0.3))
    assert scan.key == "teacher_spread" and scan.eta == cfg.eta
    np.testing.assert_allclose(scan.eg[1], ref.eg[-1], rtol=1e-12)
    np.testing.assert_allclose(scan.oracle[1], ref.observables["eg_oracle"][-1], rtol=1e-12)
    # the default test-time adaptation is the training one, so eg_test = eg
    np.testing.assert_allclose(scan.eg_test, scan.eg, rtol=1e-10)
    assert len(trajs) == 2 and scan.alpha_spec.shape == (2,)
    np.testing.assert_array_equal(scan.alpha_spec, [specialization_time(
        tr.alpha, tr.observables["specialization"]) for tr in trajs])
    assert np.isposinf(scan.alpha_spec).all()          # α_max = 2: nobody specializes yet
    assert np.isposinf(scan.table()["alpha_spec"]).all()
