"""metarep.drift, the ODE right-hand side: against autodiff in weight space, and the drift
test against single steps of the simulator.

**Weight space** (exact): the drift part of dR/dα and dQ/dα equals ΔW Bᵀ and ΔW Wᵀ + W ΔWᵀ
for ΔW = −η ∇_W F(W Wᵀ/N, W Bᵀ/N, a), with ∇_W by autodiff of the meta-loss in weight space.

**Drift test** (statistical).
From one microscopic state (K = 3 ≠ M = 2, orthogonal teacher, learned head, v̄ ≠ 0,
σ_v > 0, label noise σ > 0), :func:`metarep.simulator.step_increments` takes n = 40 000
independent single meta-training steps (fresh task and samples each; its meta-gradient is
autodiff of the per-sample loss, not the ODE's formulas) at N = 1000 and 10 000 at N = 250,
from the same order parameters, and returns N·ΔQ, N·ΔR, N·Δa. Their sample means estimate dQ/dα, dR/dα,
da/dα up to a bias β/N; the statistics policy's test
(:func:`metarep.analysis.size_agreement`: the two means extrapolated along a + β/N to
N → ∞, Student-t, Holm over the entries) compares them with :func:`metarep.drift.rhs` at a
family-wise false-alarm rate of 10⁻³ per case. Cases: full and first-order meta-gradient,
S ∈ {1, 2}, query batch 1 and 2, teacher spread σ_B = 0.3 in one.

**Power** (:func:`test_drift_test_rejects_wrong_theories`): the same test rejects the theory
that ignores the teacher spread (σ_B = 0 for steps with σ_B = 0.5) and the first-order theory
for full-gradient steps.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metarep import drift, metaloss
from metarep.analysis import size_agreement
from metarep.config import Config
from metarep.linear import coordinate_names

from helpers import drift_theory, drift_two_sizes


BASE = dict(K=3, M=2, N=1000, eta=1.0, eta_in=0.5, eta_head=0.8, v_mean=(1.0, -0.5),
            v_std=0.5, label_noise=0.1, seed=3,
            Q0=((1.0, 0.2, 0.1), (0.2, 0.8, -0.1), (0.1, -0.1, 1.2)),
            R0=((0.6, 0.1), (0.2, 0.5), (0.3, 0.3)), a0=(0.5, -0.3, 0.8))


@pytest.mark.parametrize("first_order", [False, True])
def test_drift_is_minus_eta_gradient_in_weight_space(first_order):
    """dR/dα = ΔW Bᵀ and the drift part of dQ/dα = ΔW Wᵀ + W ΔWᵀ for ΔW = −η ∇_W F(W Wᵀ/N,
    W Bᵀ/N, a), with ∇_W by autodiff in weight space (N = 40): checks A = ∂F/∂Q + ∂F/∂Qᵀ,
    G = ∂F/∂R and the products of eq-ode-R and eq-ode-Q independently of their derivation."""
    rng = np.random.default_rng(1)
    K, M, N, steps = 3, 2, 40, 2
    W, B = jnp.asarray(rng.normal(size=(K, N))), jnp.asarray(rng.normal(size=(M, N)))
    a = jnp.asarray(rng.normal(size=K))
    Q, R, T = W @ W.T / N, W @ B.T / N, B @ B.T / N
    dist = metaloss.TaskDist(T, jnp.array([0.8, -0.5]), jnp.float64(0.7), jnp.float64(0.3),
                             jnp.float64(0.2))
    hp = drift.Hyper(jnp.float64(0.7), jnp.float64(0.4), jnp.float64(0.3), jnp.float64(2.0),
                     dist)

    def F(W, a):
        if first_order:
            return metaloss.first_order_error(W @ W.T / N, W @ B.T / N, a, Q, R, dist,
                                              hp.eta_in, steps)
        return metaloss.meta_test_error(W @ W.T / N, W @ B.T / N, a, dist, hp.eta_in, steps)

    gW, ga = jax.jit(jax.grad(F, argnums=(0, 1)))(W, a)
    dW = -hp.eta * gW
    d = jax.jit(drift.vector_field, static_argnums=(2, 3))(drift.State(Q, R, a), hp, steps,
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


def test_rhs_is_the_vector_field_of_the_configuration():
    """rhs(state, cfg, T) = vector_field(state, hyper(cfg, T), S, first_order)."""

    cfg = Config(K=2, M=2, eta=0.6, eta_in=0.9, eta_head=0.4, query_batch=3, inner_steps=2,
                 v_mean=(0.5, 1.0), teacher_spread=0.2)
    T = np.array([[1.1, 0.1], [0.1, 0.9]])
    state = (np.array([[0.5, 0.1], [0.1, 0.4]]), np.array([[0.3, 0.1], [0.0, 0.2]]),
             np.array([0.2, -0.1]))
    hp = drift.hyper(cfg, T)
    assert float(hp.eta) == 0.6 and float(hp.batch) == 3.0
    np.testing.assert_array_equal(hp.dist.T, T)
    want = drift.vector_field(drift.State(*(jnp.asarray(x) for x in state)), hp, 2, False)
    for got, ref in zip(drift.rhs(state, cfg, T), want):
        np.testing.assert_allclose(got, ref, rtol=1e-13)


FALSE_ALARM = 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("first_order, inner_steps, query_batch, spread",
                         [(False, 1, 1, 0.0), (False, 2, 2, 0.0), (True, 1, 1, 0.0),
                          (True, 2, 1, 0.0), (False, 2, 1, 0.3)])
def test_drift_matches_simulator(first_order, inner_steps, query_batch, spread):
    cfg = Config(**BASE, first_order=first_order, inner_steps=inner_steps,
                 query_batch=query_batch, teacher_spread=spread)
    ag = size_agreement(drift_two_sizes(cfg, 11), drift_theory(cfg), FALSE_ALARM)
    names = coordinate_names(cfg.K, cfg.M)
    assert ag.ok, {n: (round(float(t), 2), float(p)) for n, t, p in zip(names, ag.t, ag.p)}


@pytest.mark.slow
def test_drift_test_rejects_wrong_theories():
    """Power of the drift test. Steps with teacher spread σ_B = 0.5 (S = 2) against the theory
    of σ_B = 0, and full-gradient steps against the first-order theory: the test of
    :func:`test_drift_matches_simulator` rejects both (the worst entry of the wrong theories
    were about 4 and 10 times Holm's threshold when this test was written, so a miss by chance
    is far less likely than 10⁻⁶)."""
    cfg = Config(**BASE, inner_steps=2, teacher_spread=0.5)
    ignorant = size_agreement(drift_two_sizes(cfg, 12), drift_theory(cfg.replace(teacher_spread=0.0)),
                              FALSE_ALARM)
    assert not ignorant.ok, ignorant.t
    full = Config(**BASE)
    swapped = size_agreement(drift_two_sizes(full, 13), drift_theory(full.replace(first_order=True)),
                             FALSE_ALARM)
    assert not swapped.ok, swapped.t
