"""Unit tests of metarep.studies.hyperparameters (chapter "Hyper-parameters")."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from metarep import metaloss, observables
from metarep.config import Config
from metarep.studies import hyperparameters as hp
from metarep.trajectory import Trajectory

from helpers import synthetic_grid

BASE = Config(K=2, M=2, N=500, eta=1.0, eta_in=2.0, eta_head=1.0, inner_steps=1, v_mean=1.0,
              v_std=0.5, Q0=[[0.01, 0.0], [0.0, 0.01]], R0=[[0.02, 0.01], [0.01, 0.02]],
              alpha_max=40.0, record_every=1.0, dt=0.05)


def test_inner_rate_bound_at_teacher_representation():
    # C = I2(I) = (2/π) arcsin(1/2) I = I/3 exactly: 2/λ_max(C) = 6
    np.testing.assert_allclose(hp.inner_rate_bound(np.eye(3)), 6.0, rtol=1e-12)


def test_error_vs_inner_rate_matches_metaloss():
    Q = np.array([[0.8, 0.1], [0.1, 0.7]])
    R = np.array([[0.6, 0.2], [0.1, 0.5]])
    a = np.array([0.5, 0.3])
    dist = metaloss.task_dist(BASE)
    err = hp.error_vs_inner_rate(Q, R, a, dist, [0.0, 1.5], (0, 3))
    assert err.shape == (2, 2)
    no_adapt = float(metaloss.no_adaptation_error(Q, R, a, dist))
    np.testing.assert_allclose(err[0], no_adapt, rtol=1e-12)   # S = 0: no adaptation
    np.testing.assert_allclose(err[1, 0], no_adapt, rtol=1e-12)  # η_in = 0: no adaptation
    np.testing.assert_allclose(err[1, 1], float(metaloss.meta_test_error(Q, R, a, dist, 1.5, 3)),
                               rtol=1e-12)


def test_rate_grid_line_and_outer_rate_max():
    grid = synthetic_grid()
    line = grid.line(eta_in=grid.values[1][2])
    assert line.names == ("eta",) and line.eg.shape == (5, 11)
    point = grid.line(eta=grid.values[0][1], eta_in=grid.values[1][2])
    assert point.names == () and point.final_error.shape == ()
    np.testing.assert_array_equal(line.final_error, grid.final_error[:, 2])
    with pytest.raises(ValueError, match="not a value of the grid"):
        grid.line(eta=0.3)
    t = line.t_spec
    assert hp.outer_rate_max(line) == line.values[0][np.isfinite(t)].max()
    with pytest.raises(ValueError):
        hp.outer_rate_max(grid)


def test_rate_grid_runs_sweep_and_converges_in_dt():
    """The chapter's step dt = 0.05 against dt = 0.025, at two specializing points: the
    final errors agree to 1e-4 relative (RK4: the error falls 16-fold per halving)."""
    grid = {"eta": [1.0], "eta_in": [2.0, 3.0]}
    coarse = hp.rate_grid(BASE, grid)
    fine = hp.rate_grid(BASE.replace(dt=0.025), grid)
    assert coarse.eg.shape == (1, 2, 41) and coarse.Q.shape == (1, 2, 2, 2)
    assert np.isfinite(coarse.t_spec).all() and not coarse.diverged.any()
    np.testing.assert_allclose(coarse.final_error, fine.final_error, rtol=1e-4)
    # the stiffness uses each point's own inner rate
    np.testing.assert_allclose(
        coarse.stiffness[0, :, -1],
        observables.inner_stiffness(jnp.asarray(coarse.Q[0]), jnp.array([2.0, 3.0])), rtol=1e-12)


def test_simulate_points_and_sim_point_summaries():
    cfg = BASE.replace(N=40, alpha_max=0.5, record_every=0.25)
    (p,) = hp.simulate_points(cfg, [(1.0, 2.0)], seeds=2)
    assert (p.eta, p.eta_in) == (1.0, 2.0) and p.traj.eg.shape == (2, 3)
    assert p.traj.config.eta_in == 2.0
    np.testing.assert_allclose(p.traj.eg, hp.state_errors(p.traj.config, p.traj), rtol=1e-12)
    mean, sem = p.final_error
    assert np.isclose(mean, p.traj.eg[:, -1].mean()) and sem >= 0
    assert p.traj.specialization().shape == (2, 3) and p.t_spec.shape == (2,)


def test_sim_point_from_synthetic_trajectory():
    alpha = np.linspace(0, 2, 3)
    R = np.zeros((2, 3, 2, 2))
    R[:, :, 0, 0] = R[:, :, 1, 1] = np.array([0.0, 0.5, 1.0])
    Q = np.broadcast_to(np.eye(2), (2, 3, 2, 2))
    traj = Trajectory(alpha, Q, R + 1e-3, np.zeros((2, 3, 2)), np.array([[0.3, 0.2, 0.1],
                                                                          [0.3, 0.2, 0.3]]),
                      seeds=np.array([0, 1]))
    p = hp.SimPoint(1.0, 2.0, traj)
    np.testing.assert_allclose(p.final_error, (0.2, 0.1))
    assert np.all(p.t_spec > 1.0) and np.all(p.t_spec < 2.0)


# -- additions: the spectral form, the first-order head, the plateau, protocols, allowances ----

def test_adaptation_spectrum_is_the_meta_test_error():
    """eq-adaptation-spectrum: F(η_in, S) = F_oracle + Σ c_i (1 − η_in λ_i)^{2S} at a generic
    state, for several rates (below and beyond the bound) and numbers of steps."""
    Q = np.array([[0.8, 0.1], [0.1, 0.7]])
    R = np.array([[0.6, 0.2], [0.1, 0.5]])
    a = np.array([0.5, 0.3])
    dist = metaloss.task_dist(BASE.replace(label_noise=0.1))
    lam, c, oracle = hp.adaptation_spectrum(Q, R, a, dist)
    assert np.all(c >= 0) and np.all(np.diff(lam) >= 0)
    rates, steps = np.array([0.0, 0.7, 2.0, 9.0]), (0, 1, 3)
    direct = hp.error_vs_inner_rate(Q, R, a, dist, rates, steps)
    spectral = [oracle + (c * (1 - np.outer(rates, lam)) ** (2 * S)).sum(axis=1) for S in steps]
    np.testing.assert_allclose(direct, spectral, rtol=1e-10)


@pytest.mark.parametrize("first_order,steps", [(True, 1), (True, 2), (False, 1)])
def test_head_block_of_the_jacobian_is_eq_fo_head(first_order, steps):
    """eq-fo-head: ∂(da/dα)/∂a = −η_a C P_S (first order) and −η_a P_Sᵀ C P_S (full), with
    P_S = (I − η_in C)^S; for odd S and η_in λ_max(C) > 1 the first-order block has a positive
    eigenvalue, for even S it has none."""
    from metarep import drift, linear

    cfg = BASE.replace(first_order=first_order, inner_steps=steps, eta_in=4.5, eta_head=0.7)
    Q = np.array([[0.8, 0.1], [0.1, 0.7]])
    R = np.array([[0.6, 0.2], [0.1, 0.5]])
    a = np.array([0.5, 0.3])
    J, _ = linear.jacobian((Q, R, a), drift.hyper(cfg), steps, first_order, True)
    block = J[-2:, -2:]
    C = np.asarray(metaloss.blocks(jnp.asarray(Q), jnp.asarray(R), metaloss.task_dist(cfg)).C)
    P = np.linalg.matrix_power(np.eye(2) - cfg.eta_in * C, steps)
    want = -cfg.eta_head * (C @ P if first_order else P.T @ C @ P)
    np.testing.assert_allclose(block, want, rtol=1e-9, atol=1e-12)
    assert cfg.eta_in * np.linalg.eigvalsh(C).max() > 1
    top = np.linalg.eigvals(block).real.max()
    assert (top > 0) == (first_order and steps % 2 == 1)


def test_time_average_and_concatenate_lines():
    alpha = np.linspace(0.0, 4.0, 5)
    assert hp.time_average(alpha, 3.0 * alpha + 1.0) == pytest.approx(7.0)
    grid = synthetic_grid(("eta",))
    lo = grid.line(eta=grid.values[0][0])
    assert lo.names == ()
    both = hp.concatenate_lines(grid, dataclasses.replace(grid, values=(grid.values[0] * 100,)))
    assert both.names == ("eta",) and both.eg.shape == (10, 11)
    assert np.all(np.diff(both.values[0]) > 0)
    np.testing.assert_array_equal(both.eg[:5], grid.eg)
    assert grid.labelled("x").label == "x"


def test_size_bias_bound_covers_a_one_over_n_bias():
    """Seed means on limit + β/N (β = 0.5) with small seeded noise: the bound at N = 500 is at
    least |β|/500, and it shrinks like 1/N."""
    rng = np.random.default_rng(1)
    samples = {N: 1.0 + 0.5 / N + 1e-5 * rng.standard_normal((16, 3)) for N in (250, 500)}
    bound = hp.size_bias_bound(samples, 500, 1e-3)
    assert bound.shape == (3,) and np.all(bound >= 0.5 / 500)
    np.testing.assert_allclose(hp.size_bias_bound(samples, 1000, 1e-3), bound / 2)


def test_protocol_rates_and_hyper():
    p = hp.Protocol(0.8, np.array([0.0, 10.0]), np.array([3.0, 1.0]))
    np.testing.assert_allclose(p.eta_in_at([0.0, 5.0, 20.0]), [3.0, 2.0, 1.0])
    h = p.hyper(BASE)
    assert float(h.eta) == 0.8 and float(h.eta_in(5.0)) == pytest.approx(2.0)
    c = hp.Protocol.constant(1.0, 2.0, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(c.eta_in, [2.0, 2.0, 2.0])


def test_mean_error_gradient_against_finite_differences():
    """The forward-mode gradient of the time-averaged error with respect to (log η, log η_in
    at each knot) equals central differences (step 1e-5), and a constant protocol's error is
    the time average of the plain ODE run."""
    from metarep import ode

    cfg = BASE.replace(alpha_max=4.0, record_every=1.0)
    prot = hp.Protocol(1.0, np.array([0.0, 2.0, 4.0]), np.array([2.0, 2.5, 3.0]))
    value, grad, traj = hp.mean_error(cfg, prot)
    assert grad.shape == (4,) and traj.eg.shape == (5,)
    h = 1e-5
    for k in range(4):
        step = np.zeros(4)
        step[k] = h

        def at(sign):
            th = np.concatenate([[np.log(prot.eta)], np.log(prot.eta_in)]) + sign * step
            return hp.mean_error(cfg, hp.Protocol(float(np.exp(th[0])), prot.knots,
                                                  np.exp(th[1:])))[0]

        assert grad[k] == pytest.approx((at(1) - at(-1)) / (2 * h), rel=1e-5, abs=1e-10)
    const = hp.mean_error(cfg, hp.Protocol.constant(1.0, 2.0, prot.knots))[0]
    run = ode.integrate(cfg.replace(eta_in=2.0))
    assert const == pytest.approx(hp.time_average(run.alpha, run.eg), rel=1e-12)


def test_simulate_protocol_constant_equals_simulate():
    """A constant protocol is the plain simulator (same random numbers however a run is cut),
    with the closed-form error of each recorded state."""
    from metarep.simulator import simulate

    cfg = BASE.replace(N=40, alpha_max=0.5, record_every=0.25)
    prot = hp.Protocol.constant(cfg.eta, cfg.eta_in, [0.0, 0.5])
    traj = hp.simulate_protocol(cfg, prot, 2, segment=7)
    ref = simulate(cfg, seeds=2, progress=False, eg_tasks=0)
    np.testing.assert_allclose(traj.Q, ref.Q, rtol=1e-12, atol=1e-15)   # W Wᵀ/N: rounding
    np.testing.assert_allclose(traj.R, ref.R, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(traj.a, ref.a, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(traj.eg, hp.state_errors(cfg, ref), rtol=1e-10)


def test_plateau_depends_on_eta_over_b_and_lambda_scales_with_eta():
    """The plateau at (η, b) = (2, 10) is that at (0.2, 1), and λ/η is the same."""
    from metarep import linear

    cfg = BASE.replace(eta_in=2.0)
    guess = np.array([0.66, 0.6, 0.56, 0.8])
    ok, y, lam, stable = hp.plateau_points(cfg, {"eta": [2.0, 0.2], "query_batch": [10.0, 1.0]},
                                           guess)
    assert ok.all() and stable.all()
    # both converged to a residual max|dy/dα| < 1e-11; the slowest mode inside the subspace
    # (≈ 1e-3 at η = 0.2) turns that into a position error of order 1e-8
    np.testing.assert_allclose(y[0], y[1], rtol=1e-6)
    assert lam[0] / 2.0 == pytest.approx(lam[1] / 0.2, rel=1e-6)
    fp = linear.symmetric_plateau(cfg.replace(eta=0.2), linear.symmetric_state(
        y[1], 2, 2, None, True))
    assert linear.specialization_rate(fp.J, 2, 2)[0] == pytest.approx(lam[1], rel=1e-6)


def test_plateau_map_follows_the_plateau_over_a_small_grid():
    """plateau_map of a 2 × 3 grid finds the plateau everywhere (moderate rates), with the
    single-point solver's rates, and noise_boundary brackets u_c along a column."""
    from metarep import linear

    cfg = BASE.replace(alpha_max=10.0)
    grid = hp.rate_grid(cfg, {"eta": [0.5, 1.0], "eta_in": [1.0, 2.0, 3.0]})
    pm = hp.plateau_map(cfg, grid)
    assert pm.found.all() and pm.stable.all() and np.all(np.isfinite(pm.rate))
    fp = linear.symmetric_plateau(cfg.replace(eta=0.5, eta_in=3.0),
                                  linear.symmetric_state(pm.y[0, 2], 2, 2, None, True))
    assert linear.specialization_rate(fp.J, 2, 2)[0] == pytest.approx(pm.rate[0, 2], rel=1e-8)
    column = hp.PlateauMap(("eta",), (np.array([2.0, 8.0]),), np.array([0.1, np.nan]),
                           np.array([3.0, np.nan]), np.array([True, False]),
                           np.stack([pm.y[1, 1], np.full(4, np.nan)]), np.array([True, False]))
    lo, hi = hp.noise_boundary(cfg.replace(eta_in=2.0), column)
    assert 2.0 <= lo < hi <= 8.0
