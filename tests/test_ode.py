"""The ODE (metarep.ode): chain rule, integrator accuracy, records, fixed points, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metarep import metaloss, observables, ode
from metarep.config import Config
from metarep.errors import ConfigError, DivergenceError
from metarep.initial import initial_order_parameters


@pytest.mark.parametrize("first_order", [False, True])
def test_drift_is_minus_eta_gradient_in_weight_space(first_order):
    """dR/dα = ΔW Bᵀ and the drift part of dQ/dα = ΔW Wᵀ + W ΔWᵀ for ΔW = −η ∇_W F(W Wᵀ/N,
    W Bᵀ/N, a), with ∇_W by autodiff in weight space (N = 40): checks A = ∂F/∂Q + ∂F/∂Qᵀ,
    G = ∂F/∂R and the products of SPEC §2 independently of their derivation."""
    rng = np.random.default_rng(1)
    K, M, N, steps = 3, 2, 40, 2
    W, B = jnp.asarray(rng.normal(size=(K, N))), jnp.asarray(rng.normal(size=(M, N)))
    a = jnp.asarray(rng.normal(size=K))
    Q, R, T = W @ W.T / N, W @ B.T / N, B @ B.T / N
    dist = metaloss.TaskDist(T, jnp.array([0.8, -0.5]), jnp.float64(0.7), jnp.float64(0.3),
                             jnp.float64(0.2))
    hp = ode.Hyper(jnp.float64(0.7), jnp.float64(0.4), jnp.float64(0.3), jnp.float64(2.0), dist)

    def F(W, a):
        if first_order:
            return metaloss.first_order_error(W @ W.T / N, W @ B.T / N, a, Q, R, dist,
                                              hp.eta_in, steps)
        return metaloss.meta_test_error(W @ W.T / N, W @ B.T / N, a, dist, hp.eta_in, steps)

    gW, ga = jax.jit(jax.grad(F, argnums=(0, 1)))(W, a)
    dW = -hp.eta * gW
    d = jax.jit(ode.vector_field, static_argnums=(2, 3))(ode.State(Q, R, a), hp, steps,
                                                         first_order)
    noise = hp.eta**2 / hp.batch * jax.jit(metaloss.noise_term, static_argnums=5)(
        Q, R, a, dist, hp.eta_in, steps)
    np.testing.assert_allclose(d.R, dW @ B.T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d.Q - noise, dW @ W.T + W @ dW.T, rtol=1e-12, atol=1e-14)
    if not first_order:
        np.testing.assert_allclose(d.a, -hp.eta_head * ga, rtol=1e-12, atol=1e-14)
    else:
        head = metaloss.mean_adapted_head_gradient(Q, R, a, dist, hp.eta_in, steps)
        np.testing.assert_allclose(d.a, -hp.eta_head * head, rtol=1e-14)


def test_step_size_convergence():
    """RK4 is fourth order: halving dt shrinks the change of the eg curve 16-fold (we accept
    12–20), and halving dt = 0.05 changes the curve by less than 10⁻⁷ over α ∈ [0, 150]
    (fast initial transient, plateau, specialization at α ≈ 60–100). By Richardson's
    estimate the error of the default step dt = 0.01 is then below 10⁻⁷/16/5⁴ ≈ 10⁻¹¹."""
    cfg = Config(alpha_max=150.0, record_every=1.0)
    eg = {dt: ode.integrate(cfg.replace(dt=dt)).eg for dt in (0.1, 0.05, 0.025)}
    d1 = np.max(np.abs(eg[0.1] - eg[0.05]))
    d2 = np.max(np.abs(eg[0.05] - eg[0.025]))
    assert d2 < 1e-7
    assert 12 < d1 / d2 < 20, (d1, d2)


def test_records_and_initial_state():
    cfg = Config(K=3, M=2, alpha_max=20.0, record_every=2.0, eta_head=0.5)
    traj = ode.integrate(cfg)
    op = initial_order_parameters(cfg)
    np.testing.assert_array_equal(traj.alpha, cfg.record_alphas)
    np.testing.assert_allclose(traj.Q[0], op.Q, rtol=1e-15)
    np.testing.assert_allclose(traj.R[0], op.R, rtol=1e-15)
    assert traj.Q.shape == (11, 3, 3) and traj.R.shape == (11, 3, 2) and traj.a.shape == (11, 3)
    np.testing.assert_allclose(traj.Q, np.swapaxes(traj.Q, 1, 2), rtol=1e-12)
    hp = ode.hyper(cfg)
    assert traj.eg[5] == pytest.approx(float(metaloss.meta_test_error(
        traj.Q[5], traj.R[5], traj.a[5], hp.dist, cfg.eta_in, cfg.inner_steps)), rel=1e-14)
    assert set(traj.observables) == {"eg_noadapt", "eg_oracle", "specialization"}
    assert np.all(traj.observables["eg_oracle"] <= traj.eg + 1e-15)
    # log-spaced records that do not start at 0 land on the same curve
    alphas = np.geomspace(0.5, 20.0, 7)
    logt = ode.integrate(cfg, alphas=alphas)
    np.testing.assert_array_equal(logt.alpha, alphas)
    np.testing.assert_allclose(logt.eg[-1], traj.eg[-1], rtol=1e-9)


def test_cosines_and_specialization_index():
    T = np.eye(2)
    Q = np.diag([4.0, 1.0])
    R = np.array([[2.0, 0.0], [0.0, -1.0]])         # unit 0 → teacher 0, unit 1 → teacher 1
    np.testing.assert_allclose(observables.cosines(Q, R, T), [[1.0, 0.0], [0.0, -1.0]])
    assert float(observables.specialization_index(Q, R, T)) == pytest.approx(1.0)
    R_sym = np.array([[1.0, 1.0], [0.5, 0.5]])       # every unit equally aligned with both
    assert float(observables.specialization_index(Q, R_sym, T)) == pytest.approx(0.0)


def test_unspecialized_fixed_point_and_escape_rate():
    """Newton finds the plateau; a perturbation along the leading eigenvector grows at the
    predicted escape rate (checked on the integrated nonlinear ODE in its linear regime)."""
    cfg = Config(alpha_max=30.0, record_every=30.0, dt=0.05)
    traj = ode.integrate(cfg)
    hp = ode.hyper(cfg)
    fp = observables.unspecialized_fixed_point((traj.Q[-1], traj.R[-1], traj.a[-1]), hp,
                                               cfg.inner_steps, cfg.first_order, True)
    assert fp.residual < 1e-10
    assert fp.escape_rate > 0
    w, V = np.linalg.eig(fp.J)
    lead = V[:, np.argmax(w.real)].real
    eps = 1e-7
    Q0, R0, a0 = observables._unflatten(
        observables._flatten((fp.Q, fp.R, fp.a), True) + eps * lead, 2, 2, fp.a, True)
    t1, t2 = 40.0, 80.0
    pert = ode.integrate(cfg, alphas=[t1, t2], state0=(Q0, R0, a0))
    x_fp = observables._flatten((fp.Q, fp.R, fp.a), True)
    dev = [np.linalg.norm(np.asarray(observables._flatten((pert.Q[i], pert.R[i], pert.a[i]),
                                                          True)) - x_fp) for i in (0, 1)]
    rate = np.log(dev[1] / dev[0]) / (t2 - t1)
    assert dev[1] < 1e-3                              # still linear
    assert rate == pytest.approx(fp.escape_rate, rel=1e-2)


def test_finite_support_is_rejected():
    with pytest.raises(ConfigError, match="support"):
        ode.integrate(Config(support=10))


def test_divergence_names_inner_loop():
    """η_in λ_max(C) ≈ 8 > 2 with S = 10 steps: the adapted head is amplified ~7¹⁰-fold."""
    cfg = Config(eta_in=12.0, inner_steps=10, init_scale=1.0, a0=(1.0, 1.0), alpha_max=5.0)
    with pytest.raises(DivergenceError, match=r"at α = 0: the inner loop is unstable.*eta_in"):
        ode.integrate(cfg)


def test_divergence_names_integration_step():
    """η_a = 10⁶ makes the head relax at a rate ~10⁴, far beyond RK4 stability at the default dt."""
    cfg = Config(eta_head=1e6, alpha_max=5.0)
    with pytest.raises(DivergenceError, match=r"between α = 0 and α = 1: .*reduce dt"):
        ode.integrate(cfg)


def test_divergence_names_first_order_head_instability():
    """FO-MAML, S = 1: the head's linear dynamics −η_a C (I − η_in C) a grow once η_in λ_max > 1
    (here η_in λ_max(C) ≈ 2.9 when it blows up at α ≈ 17), at any integration step."""
    for dt in (0.05, 0.01):
        cfg = Config(alpha_max=20.0, record_every=0.5, first_order=True, eta_in=3.3, dt=dt)
        with pytest.raises(DivergenceError, match=r"first-order head update is unstable"):
            ode.integrate(cfg)


def test_zero_predictor_error():
    dist = ode.hyper(Config(M=2, v_mean=(1.0, -0.5), v_std=0.7, label_noise=0.3,
                            teacher_spread=0.4)).dist
    E = 1.0 / 3.0  # I2 of a unit-variance field with itself; distinct teacher fields: 0
    expected = 0.5 * E * (1.0 + 0.25 + 2 * 0.49) + 0.5 * 0.09
    assert float(metaloss.zero_predictor_error(dist)) == pytest.approx(expected, rel=1e-14)


def test_bad_alphas():
    cfg = Config(alpha_max=5.0)
    for bad in ([], [2.0, 1.0], [-1.0, 1.0], [[1.0]], [np.nan]):
        with pytest.raises(ValueError, match="alphas"):
            ode.integrate(cfg, alphas=bad)


def test_sweep_equals_single_integrations_and_flags_divergence():
    from metarep import sweep

    cfg = Config(alpha_max=10.0, record_every=5.0, dt=0.05)
    res = sweep.sweep(cfg, {"eta": [0.5, 1.5], "eta_in": [0.0, 1.0], "eta_head": [1.0, 1e6]})
    assert res.names == ("eta", "eta_in", "eta_head")
    assert res.eg.shape == (2, 2, 2, 3) and res.Q.shape == (2, 2, 2, 3, 2, 2)
    np.testing.assert_array_equal(res.alpha, [0.0, 5.0, 10.0])
    for i, eta in enumerate([0.5, 1.5]):
        for j, eta_in in enumerate([0.0, 1.0]):
            single = ode.integrate(cfg.replace(eta=eta, eta_in=eta_in))
            np.testing.assert_allclose(res.eg[i, j, 0], single.eg, rtol=1e-12)
            np.testing.assert_allclose(res.R[i, j, 0], single.R, rtol=1e-12)
            np.testing.assert_allclose(res.observables["specialization"][i, j, 0],
                                       single.observables["specialization"], rtol=1e-12)
    assert not res.diverged[:, :, 0].any()
    # η_a = 10⁶ is unstable for RK4 at this dt: flagged from the first step on, values NaN
    assert res.diverged[:, :, 1, 1:].all() and np.isnan(res.eg[:, :, 1, 1:]).all()
    with pytest.raises(ConfigError, match="cannot sweep"):
        sweep.sweep(cfg, {"K": [1, 2]})
