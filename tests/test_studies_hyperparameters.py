"""Unit tests of metarep.studies.hyperparameters (chapter "Hyper-parameters")."""

import numpy as np
import pytest

from metarep import metaloss
from metarep.config import Config
from metarep.studies import hyperparameters as hp
from metarep.trajectory import Trajectory

BASE = Config(K=2, M=2, N=500, eta=1.0, eta_in=2.0, eta_head=1.0, inner_steps=1, v_mean=1.0,
              v_std=0.5, Q0=[[0.01, 0.0], [0.0, 0.01]], R0=[[0.02, 0.01], [0.01, 0.02]],
              alpha_max=40.0, record_every=1.0, dt=0.05)


def test_time_to_specialize_interpolates_and_flags_never():
    alpha = np.arange(5.0)
    index = np.array([[0.0, 0.2, 0.4, 0.8, 0.9],      # crosses 1/2 a quarter into [2, 3]
                      [0.0, 0.1, 0.1, 0.2, 0.3],      # never
                      [0.6, 0.7, 0.8, 0.9, 1.0],      # starts above
                      [0.0, np.nan, np.nan, np.nan, np.nan]])  # diverged: never
    t = hp.time_to_specialize(alpha, index)
    np.testing.assert_allclose(t[0], 2.25, rtol=1e-12)
    assert np.isinf(t[1]) and t[2] == 0.0 and np.isinf(t[3])


def test_inner_stiffness_and_bound_at_teacher_representation():
    # C = I2(I) = (2/π) arcsin(1/2) I = I/3 exactly
    Q = np.stack([np.eye(2), np.full((2, 2), np.nan)])
    s = hp.inner_stiffness(Q, np.array([3.0, 3.0]))
    np.testing.assert_allclose(s[0], 1.0, rtol=1e-12)
    assert np.isnan(s[1])
    np.testing.assert_allclose(hp.inner_rate_bound(np.eye(3)), 6.0, rtol=1e-12)
    np.testing.assert_allclose(hp.activation_gram(np.eye(2)), np.eye(2) / 3, atol=1e-15)


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


def synthetic_grid(names=("eta", "eta_in"), n_alpha=11) -> hp.RateGrid:
    """A small closed-form RateGrid (for tests and figure cases)."""
    values = tuple(np.geomspace(0.25, 4.0, 5) if n == "eta" else np.geomspace(0.5, 8.0, 5)
                   for n in names)
    mesh = np.meshgrid(*values, indexing="ij")
    shape = mesh[0].shape
    alpha = np.linspace(0.0, 20.0, n_alpha)
    x = sum(np.log(m) for m in mesh)                         # log of the product of rates
    rate = np.exp(-((x - np.log(2.0)) ** 2))[..., None]     # fastest along η·η_in = 2
    spec = 1 - np.exp(-rate * alpha / 4)
    eg = 0.02 + 0.4 * np.exp(-rate * alpha / 8)
    stiff = np.broadcast_to((mesh[-1] / 3)[..., None], (*shape, n_alpha)) * (0.5 + spec / 2)
    norm = np.broadcast_to(mesh[0][..., None], (*shape, n_alpha)) * (0.1 + spec)
    diverged = mesh[-1] * mesh[0] > 20 if len(names) > 1 else mesh[0] > 6
    nan = diverged[..., None] & (alpha > 10)
    eg, spec, stiff = (np.where(nan, np.nan, z) for z in (eg, spec, stiff))
    K = 2
    Q = np.broadcast_to(np.eye(K), (*shape, K, K)).copy()
    R = np.broadcast_to(np.eye(K), (*shape, K, K)).copy()
    a = np.ones((*shape, K))
    return hp.RateGrid(tuple(names), values, "synthetic", alpha, eg, spec, stiff, norm,
                       diverged, Q, R, a)


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
        coarse.stiffness[0, :, -1], hp.inner_stiffness(coarse.Q[0], np.array([2.0, 3.0])),
        rtol=1e-12)


def test_simulate_points_and_sim_point_summaries():
    cfg = BASE.replace(N=40, alpha_max=0.5, record_every=0.25)
    (p,) = hp.simulate_points(cfg, [(1.0, 2.0)], seeds=2, eg_tasks=20)
    assert (p.eta, p.eta_in) == (1.0, 2.0) and p.traj.eg.shape == (2, 3)
    assert p.traj.config.eta_in == 2.0
    mean, sem = p.final_error
    assert np.isclose(mean, p.traj.eg[:, -1].mean()) and sem >= 0
    assert p.specialization.shape == (2, 3) and p.t_spec.shape == (2,)


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
