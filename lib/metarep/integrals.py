r"""Closed-form Gaussian integrals for the activation g(z) = erf(z/√2).

For jointly Gaussian, zero-mean fields u with covariance C (entries named in argument order,
``c12`` = C₁₂ = E[u₁u₂]) and g'(z) = √(2/π) e^{-z²/2}:

* I2 = E[g(u₁) g(u₂)]            = (2/π) arcsin(C₁₂ / √((1+C₁₁)(1+C₂₂)))           (eq-i2)
* J2 = E[g'(u₁) g'(u₂)]          = (2/π) / √((1+C₁₁)(1+C₂₂) − C₁₂²)                 (eq-j2)
* I3 = E[g'(u₁) u₂ g(u₃)]        = (2/π) [C₂₃(1+C₁₁) − C₁₂C₁₃] / [(1+C₁₁) √((1+C₁₁)(1+C₃₃) − C₁₃²)]
                                                                                    (eq-i3)
* I4 = E[g'(u₁)g'(u₂)g(u₃)g(u₄)] = (4/π²) Λ₄^{-1/2} arcsin(Λ₀ / √(Λ₁Λ₂))             (eq-i4)

with Λ₄, Λ₀, Λ₁, Λ₂ as in :func:`i4` (Saad & Solla 1995; Goldt et al. 2019). The book derives
them in the chapter on order parameters, by reweighting the Gaussian measure
(``eq-gaussian-reweighting``); the fields of one task have the covariance
``eq-field-covariance``. I3 is not symmetric
in its first two arguments; I4 is symmetric under 1↔2 and under 3↔4.

Every function is elementwise in its entries and broadcasts them against each other (NumPy
rules), so whole K×M×… tensors of integrals are one call. The ``*_cov`` variants take full
covariance matrices of shape (..., n, n) and read the entries in argument order
(I2/J2: n = 2, I3: n = 3, I4: n = 4). All functions are pure and jittable.
"""

from __future__ import annotations

import jax.numpy as jnp

_2_PI = 2.0 / jnp.pi
_4_PI2 = 4.0 / jnp.pi**2


def i2(c11, c12, c22):
    """I2 = E[g(u₁)g(u₂)] = (2/π) arcsin(C₁₂/√((1+C₁₁)(1+C₂₂))); broadcasts its arguments."""
    return _2_PI * jnp.arcsin(c12 / jnp.sqrt((1.0 + c11) * (1.0 + c22)))


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
    return _4_PI2 / jnp.sqrt(lam4) * jnp.arcsin(lam0 / jnp.sqrt(lam1 * lam2))


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
           "i2_matrix", "j2_matrix"]
