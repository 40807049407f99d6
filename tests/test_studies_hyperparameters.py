"""Unit tests of metarep.studies.hyperparameters (chapter "Hyper-parameters")."""

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
    (p,) = hp.simulate_points(cfg, [(1.0, 2.0)], seeds=2, eg_tasks=20)
    assert (p.eta, p.eta_in) == (1.0, 2.0) and p.traj.eg.shape == (2, 3)
    assert p.traj.config.eta_in == 2.0
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
