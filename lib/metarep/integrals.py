r"""Closed-form Gaussian integrals for the activation g(z) = erf(z/√2).

For jointly Gaussian, zero-mean fields u with covariance C (entries named in argument order,
``c12`` = C₁₂ = E[u₁u₂]) and g'(z) = √(2/π) e^{-z²/2}:

* I2 = E[g(u₁) g(u₂)]            = (2/π) arcsin(C₁₂ / √((1+C₁₁)(1+C₂₂)))           (eq-i2)
* J2 = E[g'(u₁) g'(u₂)]          = (2/π) / √((1+C₁₁)(1+C₂₂) − C₁₂²)                 (eq-j2)
* I3 = E[g'(u₁) u₂ g(u₃)]        = (2/π) [C₂₃(1+C₁₁) − C₁₂C₁₃] / [(1+C₁₁) √((1+C₁₁)(1+C₃₃) − C₁₃²)]
                                                                                    (eq-i3)
* I4 = E[g'(u₁)g'(u₂)g(u₃)g(u₄)] = (4/π²) Λ₄^{-1/2} arcsin(Λ₀ / √(Λ₁Λ₂))             (eq-i4)

with Λ₄, Λ₀, Λ₁, Λ₂ as in :func:`i4` (Saad & Solla 1995; Goldt et al. 2019), and the
four-point function of the activations, which has no elementary closed form,

* G4 = E[g(u₁)g(u₂)g(u₃)g(u₄)] = ∫₀¹ Σ_(ij|kl) ρ_ij (4/π²)(1 − t²ρ_ij²)^{-1/2}
  arcsin ρ_kl·ij(t) dt                                                             (eq-g4)

(ρ the correlation matrix of I + C, ρ_kl·ij(t) the partial correlation of fields k, l given
i, j at correlations tρ; the sum runs over the six ordered splits of {1,2,3,4} into pairs;
:func:`g4`), evaluated by Gauss–Legendre quadrature. The book derives
them in the chapter on order parameters, by reweighting the Gaussian measure
(``eq-gaussian-reweighting``); the fields of one task have the covariance
``eq-field-covariance``. I3 is not symmetric
in its first two arguments; I4 is symmetric under 1↔2 and under 3↔4.

The arcsines are :func:`arcsin`, a series with exact derivatives that XLA:CPU evaluates about
three times faster than its float64 library call (G4 needs thousands per right-hand side).

Every function is elementwise in its entries and broadcasts them against each other (NumPy
rules), so whole K×M×… tensors of integrals are one call. The ``*_cov`` variants take full
covariance matrices of shape (..., n, n) and read the entries in argument order
(I2/J2: n = 2, I3: n = 3, I4: n = 4). All functions are pure and jittable.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

_2_PI = 2.0 / jnp.pi
_4_PI2 = 4.0 / jnp.pi**2


def i2(c11, c12, c22):
    """I2 = E[g(u₁)g(u₂)] = (2/π) arcsin(C₁₂/√((1+C₁₁)(1+C₂₂))); broadcasts its arguments."""
    return _2_PI * arcsin(c12 / jnp.sqrt((1.0 + c11) * (1.0 + c22)))


def j2(c11, c12, c22):
    """J2 = E[g'(u₁)g'(u₂)] = (2/π)/√((1+C₁₁)(1+C₂₂) − C₁₂²); broadcasts its arguments."""
    return _2_PI / jnp.sqrt((1.0 + c11) * (1.0 + c22) - c12**2)


def i3(c11, c12, c13, c23, c33):
    """I3 = E[g'(u₁) u₂ g(u₃)] = (2/π)[C₂₃(1+C₁₁) − C₁₂C₁₃]/[(1+C₁₁)√((1+C₁₁)(1+C₃₃) − C₁₃²)].

    (It does not depend on C₂₂.) Broadcasts its arguments.
    """
    lam3 = (1.0 + c11) * (1.0 + c33) - c13**2
    return _2_PI * (c23 * (1.0 + c11) - c12 * c13) / ((1.0 + c11) * jnp.sqrt(lam3))


def i4(c11, c12, c13, c14, c22, c23, c24, c33, c34, c44):
    """I4 = E[g'(u₁)g'(u₂)g(u₃)g(u₄)] = (4/π²) Λ₄^{-1/2} arcsin(Λ₀/√(Λ₁Λ₂)).

    Λ₄ = (1+C₁₁)(1+C₂₂) − C₁₂²,
    Λ₀ = Λ₄C₃₄ − C₂₃C₂₄(1+C₁₁) − C₁₃C₁₄(1+C₂₂) + C₁₂C₁₃C₂₄ + C₁₂C₁₄C₂₃,
    Λ₁ = Λ₄(1+C₃₃) − C₂₃²(1+C₁₁) − C₁₃²(1+C₂₂) + 2C₁₂C₁₃C₂₃,
    Λ₂ = Λ₄(1+C₄₄) − C₂₄²(1+C₁₁) − C₁₄²(1+C₂₂) + 2C₁₂C₁₄C₂₄.
    Broadcasts its arguments.
    """
    p1 = 1.0 + c11
    p2 = 1.0 + c22
    lam4 = p1 * p2 - c12**2
    lam0 = lam4 * c34 - c23 * c24 * p1 - c13 * c14 * p2 + c12 * c13 * c24 + c12 * c14 * c23
    lam1 = lam4 * (1.0 + c33) - c23**2 * p1 - c13**2 * p2 + 2.0 * c12 * c13 * c23
    lam2 = lam4 * (1.0 + c44) - c24**2 * p1 - c14**2 * p2 + 2.0 * c12 * c14 * c24
    return _4_PI2 / jnp.sqrt(lam4) * arcsin(lam0 / jnp.sqrt(lam1 * lam2))


#: Taylor coefficients C(2n, n)/(4ⁿ(2n + 1)) of h(t) = arcsin(√t)/√t = Σₙ cₙ tⁿ, the kernel of
#: :func:`arcsin`, used for t ≤ ¼: all terms are positive (Horner's rule loses nothing) and
#: the tail after 26 terms is below c₂₆ 4⁻²⁶ · 4/3 < 10⁻¹⁷.
_ASIN_SERIES = np.array([math.comb(2 * n, n) / (4**n * (2 * n + 1)) for n in range(26)])


@jax.custom_jvp
def arcsin(x):
    """arcsin x for |x| ≤ 1 from elementary operations (a polynomial and one square root),
    within 3 units in the last place; about three times faster than ``jnp.arcsin``
    under XLA:CPU, whose float64 inverse trigonometric functions are scalar library calls
    (:func:`g4` evaluates thousands per call). |x| ≤ ½: x·h(x²); |x| > ½: sign(x)(π/2 −
    2√t h(t)), t = (1 − |x|)/2 (arcsin x = π/2 − 2 arcsin √((1 − x)/2)); h(t) = arcsin(√t)/√t
    by its Taylor series. Its derivative is the exact 1/√((1 − x)(1 + x)) (a custom JVP)."""
    x = jnp.asarray(x)
    small = jnp.abs(x) <= 0.5
    t = jnp.where(small, x * x, 0.5 * (1.0 - jnp.abs(x)))
    h = jnp.zeros_like(t)
    for c in _ASIN_SERIES[::-1]:
        h = h * t + float(c)
    root = jnp.sqrt(jnp.where(small, 1.0, t))
    return jnp.where(small, x * h, jnp.sign(x) * (0.5 * np.pi - 2.0 * root * h))


@arcsin.defjvp
def _arcsin_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return arcsin(x), dx / jnp.sqrt((1.0 - x) * (1.0 + x))


#: Gauss–Legendre nodes of :func:`g4` on [0, 1]. Its integrand is analytic on the interval,
#: with singularities at t = 1/|ρ_ij| > 1: against 400 nodes, 20 nodes are within 5e-15 for
#: fields of variance up to 5 and within 5e-10 up to 20 (largest errors over 300 random
#: covariances: 1.2e-15 and 1.8e-10; tests/test_support.py).
G4_NODES = 20
_GL_T, _GL_W = np.polynomial.legendre.leggauss(G4_NODES)
_GL_T, _GL_W = 0.5 * (_GL_T + 1.0), 0.5 * _GL_W
#: The six splits (i, j | k, l) of the four fields into an ordered pair and its complement.
_SPLITS = np.array([(0, 1, 2, 3), (0, 2, 1, 3), (0, 3, 1, 2),
                    (2, 3, 0, 1), (1, 3, 0, 2), (1, 2, 0, 3)])


def g4(C):
    r"""G4 = E[g(u₁)g(u₂)g(u₃)g(u₄)] for u ~ N(0, C), C of shape (..., 4, 4) (``eq-g4``).

    With g(u) = E_w[sign(u + w)], w ~ N(0, 1), G4 = E[Π_i sign(s_i)] for s ~ N(0, I + C)
    (fields may repeat: u₁ = u₂ is C₁₁ = C₁₂). Scaling the correlations ρ of s by t ∈ [0, 1]
    and Price's theorem, ∂E[Π sign]/∂ρ_ij = 4 φ₂(0, 0; ρ_ij) E[sign s_k sign s_l | s_i = s_j = 0]
    = (4/π²)(1 − ρ_ij²)^{-1/2} arcsin ρ_kl·ij, integrate from the independent case (G4 = 0) to
    t = 1. Returns shape (...); jittable and differentiable.
    """
    S = C + jnp.eye(4, dtype=C.dtype)
    sd = jnp.sqrt(jnp.diagonal(S, axis1=-2, axis2=-1))
    rho = S / (sd[..., :, None] * sd[..., None, :])
    i, j, k, l = (_SPLITS[:, n] for n in range(4))
    r_ij, r_kl = rho[..., i, j], rho[..., k, l]                  # (..., 6)
    r_ik, r_jk, r_il, r_jl = rho[..., i, k], rho[..., j, k], rho[..., i, l], rho[..., j, l]
    t = jnp.asarray(_GL_T, dtype=C.dtype)[:, None]                # (nodes, 1)
    ex = lambda x: x[..., None, :]  # noqa: E731  (..., 1, 6): broadcast against the nodes
    a = t * ex(r_ij)
    det = 1.0 - a**2
    # quadratic forms r_xᵀ A⁻¹ r_y with A = [[1, a], [a, 1]], r_x = t (ρ_ix, ρ_jx)
    form = lambda p1, p2, q1, q2: t**2 * (ex(p1) * ex(q1) + ex(p2) * ex(q2)  # noqa: E731
                                          - a * (ex(p1) * ex(q2) + ex(p2) * ex(q1))) / det
    num = t * ex(r_kl) - form(r_ik, r_jk, r_il, r_jl)
    den = jnp.sqrt((1.0 - form(r_ik, r_jk, r_ik, r_jk)) * (1.0 - form(r_il, r_jl, r_il, r_jl)))
    f = ex(r_ij) * arcsin(num / den) / jnp.sqrt(det)
    return _4_PI2 * jnp.einsum("...ts,t->...", f, jnp.asarray(_GL_W, dtype=C.dtype))


def i2_cov(C):
    """I2 from covariance matrices C of shape (..., 2, 2); returns shape (...)."""
    return i2(C[..., 0, 0], C[..., 0, 1], C[..., 1, 1])


def j2_cov(C):
    """J2 from covariance matrices C of shape (..., 2, 2); returns shape (...)."""
    return j2(C[..., 0, 0], C[..., 0, 1], C[..., 1, 1])


def i3_cov(C):
    """I3 from covariance matrices C of shape (..., 3, 3); returns shape (...)."""
    return i3(C[..., 0, 0], C[..., 0, 1], C[..., 0, 2], C[..., 1, 2], C[..., 2, 2])


def i4_cov(C):
    """I4 from covariance matrices C of shape (..., 4, 4); returns shape (...)."""
    return i4(C[..., 0, 0], C[..., 0, 1], C[..., 0, 2], C[..., 0, 3], C[..., 1, 1],
              C[..., 1, 2], C[..., 1, 3], C[..., 2, 2], C[..., 2, 3], C[..., 3, 3])


def i2_matrix(cross, var_a, var_b):
    """Matrix of I2 between two families of fields.

    ``out[i, j] = (2/π) arcsin(cross[i, j] / √((1+var_a[i])(1+var_b[j])))`` = E[g(u_i) g(w_j)]
    for fields u (variances var_a, shape (K,)) and w (variances var_b, shape (M,)) with
    cross-covariance cross (K, M). E.g. C = i2_matrix(Q, diag Q, diag Q),
    D = i2_matrix(R, diag Q, diag T). Leading batch axes broadcast: cross (..., K, M),
    var_a (..., K), var_b (..., M).
    """
    var_a = jnp.asarray(var_a)
    var_b = jnp.asarray(var_b)
    return i2(var_a[..., :, None], cross, var_b[..., None, :])


def j2_matrix(cross, var_a, var_b):
    """Matrix of J2: ``out[i, j] = (2/π)/√((1+var_a[i])(1+var_b[j]) − cross[i, j]²)``."""
    var_a = jnp.asarray(var_a)
    var_b = jnp.asarray(var_b)
    return j2(var_a[..., :, None], cross, var_b[..., None, :])


__all__ = ["i2", "j2", "i3", "i4", "i2_cov", "j2_cov", "i3_cov", "i4_cov",
           "i2_matrix", "j2_matrix", "G4_NODES", "g4", "arcsin"]
