"""Classic limit: without adaptation and with a single task the meta-learning ODE
is the two-layer online-SGD ODE of Goldt et al. (2019).

With η_in = 0 (so a′ = a), σ_v = 0 and v̄ = v* (one task), σ_B = 0, the equations are, with
fields h = (λ, ν), I3(i, n, p) = E[g'(λ_i) h_n g(h_p)] and I4(i, k, p, q) =
E[g'(λ_i) g'(λ_k) g(h_p) g(h_q)] (Goldt et al. 2019, eqs. (9)–(11), query batch b added):

    dR_in/dα = η a_i [Σ_m v*_m I3(i, ν_n, ν_m) − Σ_j a_j I3(i, ν_n, λ_j)]
    dQ_ik/dα = η a_i [Σ_m v*_m I3(i, λ_k, ν_m) − Σ_j a_j I3(i, λ_k, λ_j)] + (i ↔ k)
               + (η²/b) a_i a_k [Σ_{p,q} c_p c_q I4(i, k, p, q) + σ² J2(i, k)],  c = (a, −v*)
    da_i/dα  = η_a [Σ_m v*_m I2(λ_i, ν_m) − Σ_j a_j I2(λ_i, λ_j)]

written here with explicit loops over the closed-form integrals (metarep.integrals, checked
against Monte Carlo in test_integrals.py), independently of the autodiff path of metarep.drift.
Both are evaluated at random states; they must agree to rounding (rtol 1e-10).
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metarep import drift, integrals
from metarep.metaloss import TaskDist


def goldt_rhs(Q, R, T, a, v, eta, eta_a, sigma, b):
    K, M = R.shape
    O = np.block([[Q, R], [R.T, T]])  # covariance of h = (λ, ν)
    lam, nu = list(range(K)), list(range(K, K + M))
    c = np.concatenate([a, -v])

    def I2(p, q):
        return float(integrals.i2(O[p, p], O[p, q], O[q, q]))

    def I3(i, n, p):
        return float(integrals.i3(O[i, i], O[i, n], O[i, p], O[n, p], O[p, p]))

    def I4(i, k, p, q):
        return float(integrals.i4(O[i, i], O[i, k], O[i, p], O[i, q], O[k, k], O[k, p],
                                  O[k, q], O[p, p], O[p, q], O[q, q]))

    def J2(i, k):
        return float(integrals.j2(O[i, i], O[i, k], O[k, k]))

    def drive(i, n):  # a_i ⟨g'(λ_i) h_n (y − f)⟩ for a single sample
        return a[i] * (sum(v[m] * I3(i, n, nu[m]) for m in range(M))
                       - sum(a[j] * I3(i, n, lam[j]) for j in range(K)))

    dR = np.array([[eta * drive(i, nu[n]) for n in range(M)] for i in range(K)])
    dQ = np.zeros((K, K))
    for i, k in itertools.product(range(K), repeat=2):
        quartic = sum(c[p] * c[q] * I4(i, k, p, q)
                      for p, q in itertools.product(range(K + M), repeat=2))
        dQ[i, k] = (eta * (drive(i, lam[k]) + drive(k, lam[i]))
                    + eta**2 / b * a[i] * a[k] * (quartic + sigma**2 * J2(i, k)))
    da = np.array([eta_a * (sum(v[m] * I2(lam[i], nu[m]) for m in range(M))
                            - sum(a[j] * I2(lam[i], lam[j]) for j in range(K)))
                   for i in range(K)])
    return dQ, dR, da


def random_state(rng, K, M):
    A = rng.normal(size=(K + M, K + M + 2)) / np.sqrt(K + M + 2)
    O = A @ A.T * rng.uniform(0.5, 2.0)
    return O[:K, :K], O[:K, K:], O[K:, K:], rng.normal(size=K)


@pytest.mark.parametrize("K, M, steps, first_order, b, seed",
                         [(2, 2, 0, False, 1, 0), (3, 2, 2, False, 1, 1),
                          (3, 2, 1, True, 1, 2), (2, 4, 3, False, 4, 3)])
def test_ode_equals_goldt_two_layer_sgd(K, M, steps, first_order, b, seed):
    rng = np.random.default_rng(seed)
    Q, R, T, a = random_state(rng, K, M)
    v = rng.normal(size=M)
    eta, eta_a, sigma = 0.7, 0.4, 0.3
    dist = TaskDist(T=jnp.asarray(T), v_bar=jnp.asarray(v), v_std=jnp.float64(0.0),
                    spread=jnp.float64(0.0), noise=jnp.float64(sigma))
    hp = drift.Hyper(eta=jnp.float64(eta), eta_in=jnp.float64(0.0),
                     eta_head=jnp.float64(eta_a), batch=jnp.float64(b), dist=dist)
    state = drift.State(jnp.asarray(Q), jnp.asarray(R), jnp.asarray(a))
    got = jax.jit(drift.vector_field, static_argnums=(2, 3))(state, hp, steps, first_order)
    dQ, dR, da = goldt_rhs(Q, R, T, a, v, eta, eta_a, sigma, b)
    np.testing.assert_allclose(np.asarray(got.R), dR, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(np.asarray(got.Q), dQ, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(np.asarray(got.a), da, rtol=1e-10, atol=1e-13)
