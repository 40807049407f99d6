"""The population meta-loss and the noise term (metarep.metaloss) against Monte Carlo.

At a random state with K ≠ M, a non-identity T, teacher spread, label noise, v̄ ≠ 0 and
σ_v > 0, we sample n = 400 000 tasks and inputs *of the N → ∞ limit*: readouts
v ~ N(v̄, σ_v² I), fields h = (λ, ν^τ) ~ N(0, Ω) with Ω built from the task overlaps
R^τ = √(1−σ_B²)R, T^τ = (1−σ_B²)T + σ_B²I, label noise ζ ~ N(0, 1), and the adapted head
a′ = P_S a + L_S v. The closed forms (exact task averages) are compared with the sample means
as z-scores, |z| < 4 (Monte-Carlo error only). The microscopic origin of Ω (that R^τ, T^τ are
the overlaps a task sees) is checked against the simulator in test_drift.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf

from metarep import metaloss

N_MC = 400_000
Z_MAX = 4.0
K, M = 3, 2
ETA_IN, STEPS = 0.4, 2


def g(z):
    return erf(z / np.sqrt(2.0))


def dg(z):
    return np.sqrt(2.0 / np.pi) * np.exp(-0.5 * z**2)


def z_score(samples, closed):
    return (samples.mean() - float(closed)) / (samples.std(ddof=1) / np.sqrt(samples.size))


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(K + M, K + M + 3)) / np.sqrt(K + M + 3)
    omega = A @ A.T
    spread = 0.3
    Q = omega[:K, :K]
    R = omega[:K, K:] / np.sqrt(1 - spread**2)
    T = (omega[K:, K:] - spread**2 * np.eye(M)) / (1 - spread**2)
    assert np.linalg.eigvalsh(T).min() > 0
    dist = metaloss.TaskDist(T=jnp.asarray(T), v_bar=jnp.array([0.8, -0.5]),
                             v_std=jnp.float64(0.7), spread=jnp.float64(spread),
                             noise=jnp.float64(0.2))
    a = rng.normal(size=K)
    b = metaloss.blocks(jnp.asarray(Q), jnp.asarray(R), dist)
    P, L = (np.asarray(x) for x in metaloss.inner_loop(b.C, b.D, ETA_IN, STEPS))
    h = rng.multivariate_normal(np.zeros(K + M), omega, size=N_MC)
    v = np.asarray(dist.v_bar) + float(dist.v_std) * rng.normal(size=(N_MC, M))
    zeta = rng.normal(size=N_MC)
    ap = a @ P.T + v @ L.T
    delta = (ap * g(h[:, :K])).sum(1) - (v * g(h[:, K:])).sum(1) - float(dist.noise) * zeta
    return dict(Q=jnp.asarray(Q), R=jnp.asarray(R), a=jnp.asarray(a), dist=dist, omega=omega,
                h=h, v=v, ap=ap, delta=delta, b=b)


def test_field_covariance(setup):
    s = setup
    np.testing.assert_allclose(metaloss.field_covariance(s["Q"], s["R"], s["dist"]), s["omega"],
                               rtol=1e-12, atol=1e-14)


def test_meta_test_error_vs_monte_carlo(setup):
    s = setup
    F = metaloss.meta_test_error(s["Q"], s["R"], s["a"], s["dist"], ETA_IN, STEPS)
    assert abs(z_score(0.5 * s["delta"] ** 2, F)) < Z_MAX


def test_noise_term_vs_monte_carlo(setup):
    s = setup
    phi = np.asarray(metaloss.noise_term(s["Q"], s["R"], s["a"], s["dist"], ETA_IN, STEPS))
    assert np.allclose(phi, phi.T)
    lam, ap, d2 = s["h"][:, :K], s["ap"], s["delta"] ** 2
    for k in range(K):
        for l in range(k, K):
            samples = d2 * ap[:, k] * ap[:, l] * dg(lam[:, k]) * dg(lam[:, l])
            assert abs(z_score(samples, phi[k, l])) < Z_MAX, (k, l)


def test_oracle_error_vs_monte_carlo(setup):
    s = setup
    C, D = np.asarray(s["b"].C), np.asarray(s["b"].D)
    a_star = s["v"] @ np.linalg.solve(C, D).T           # best head of each task, (n, K)
    h = s["h"]
    delta = ((a_star * g(h[:, :K])).sum(1) - (s["v"] * g(h[:, K:])).sum(1)
             - float(s["dist"].noise) * np.random.default_rng(9).normal(size=N_MC))
    oracle = metaloss.oracle_error(s["Q"], s["R"], s["dist"])
    assert abs(z_score(0.5 * delta**2, oracle)) < Z_MAX


def test_inner_loop_is_gradient_descent_on_population_loss(setup):
    s = setup
    C, D = s["b"].C, s["b"].D
    v = jnp.array([0.3, -1.2])
    a = s["a"]
    for _ in range(STEPS):
        a = a - ETA_IN * (C @ a - D @ v)
    P, L = metaloss.inner_loop(C, D, ETA_IN, STEPS)
    np.testing.assert_allclose(P @ s["a"] + L @ v, a, rtol=1e-13)
    P0, L0 = metaloss.inner_loop(C, D, ETA_IN, 0)
    np.testing.assert_array_equal(P0, np.eye(K))
    np.testing.assert_array_equal(L0, np.zeros((K, M)))


def test_many_steps_reach_the_oracle(setup):
    """With η_in < 2/λ_max(C) the inner loop converges to a* = C⁻¹Dv, so F → oracle error."""
    s = setup
    lam = np.linalg.eigvalsh(np.asarray(s["b"].C))
    eta_in = 1.0 / lam.max()
    steps = int(np.ceil(40 / (eta_in * lam.min())))     # contraction (1 − η λ_min)^S < e^-40
    F = metaloss.meta_test_error(s["Q"], s["R"], s["a"], s["dist"], eta_in, steps)
    oracle = metaloss.oracle_error(s["Q"], s["R"], s["dist"])
    assert float(F) == pytest.approx(float(oracle), rel=1e-10)
    # and no head does better than the oracle
    for scale in (0.0, 1.0, 3.0):
        F0 = metaloss.no_adaptation_error(s["Q"], s["R"], scale * s["a"], s["dist"])
        assert float(F0) > float(oracle)


def test_first_order_error_consistent(setup):
    s = setup
    F = metaloss.meta_test_error(s["Q"], s["R"], s["a"], s["dist"], ETA_IN, STEPS)
    F1 = metaloss.first_order_error(s["Q"], s["R"], s["a"], s["Q"], s["R"], s["dist"], ETA_IN,
                                    STEPS)
    assert float(F1) == pytest.approx(float(F), rel=1e-14)
    grad = metaloss.mean_adapted_head_gradient(s["Q"], s["R"], s["a"], s["dist"], ETA_IN, STEPS)
    # ⟨∂ε/∂a′⟩ is the derivative of the averaged error with respect to a′ at fixed P, L:
    # ∂F/∂a = P_Sᵀ ⟨∂ε/∂a′⟩
    dFda = jax.grad(metaloss.meta_test_error, argnums=2)(s["Q"], s["R"], s["a"], s["dist"],
                                                        ETA_IN, STEPS)
    P, _ = metaloss.inner_loop(s["b"].C, s["b"].D, ETA_IN, STEPS)
    np.testing.assert_allclose(dFda, P.T @ grad, rtol=1e-12)
