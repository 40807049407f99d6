r"""The meta-loss and the noise term of the ODEs with a finite support set (few-shot).

With P support samples the inner loop runs S steps of gradient descent on the task's
empirical loss ½P⁻¹ Σ_p (aᵀφ_p − y_p)², φ_p = g(λ_p), y_p = vᵀψ_p + σζ_p, ψ_p = g(ν^τ_p).
The gradient is Ĉ a − D̂ v − σΦᵀζ/P with the support's *empirical* second moments

    X̂ = [Ĉ, D̂] = P⁻¹ Σ_p φ_p (φ_p, ψ_p)ᵀ            (K × (K+M); ``eq-fs-moments``)

so the population inner loop with (C, D) replaced by (Ĉ, D̂) gives the adapted head

    a′ = P̂ a + L̂ v + n,  n ~ N(0, (σ²/P) Ĥ Ĉ Ĥᵀ),  Ĥ = η_in Σ_{s<S} (I − η_in Ĉ)^s
                                                                       (``eq-fs-head``)

(P̂, L̂ from :func:`metarep.metaloss.inner_loop` on Ĉ, D̂). Given the support's fields, a′ is
affine and Gaussian in (v, ζ); every quantity of the population theory averaged over v and
ζ (the error of a task, the fourth moments of the noise term) is therefore a function f(X̂)
of X̂ alone, and the finite-P theory is its average over the law of X̂, the mean of P
i.i.d. matrices X_p = φ_p (φ_p, ψ_p)ᵀ of mean X̄ = [C, D]. With the single-sample covariance
Κ = Cov(X_p), Κ[j,a,k,b] = G4(j,a,k,b) − X̄_ja X̄_kb (four-point functions of the task's
fields, :func:`metarep.integrals.g4`),

    E_P[f] = f(X̄) + (1/2P) ⟨∇²f(X̄), Κ⟩ + E[f(X̂) − f(X̄) − ∇f·ΔX − ½ ΔXᵀ∇²f ΔX]
                                                                  (``eq-fs-expansion``)

The first two terms are exact: E[ΔX] = 0 and E[ΔX ΔX] = Κ/P. The remainder is of order
P⁻² and is estimated by a deterministic field-space average over fixed draws
(:class:`Draws`: scrambled Sobol points mapped to normals, then by the Cholesky factor of the
current field covariance, so the right-hand side is a smooth function of (Q, R, a)). For S = 1
the task error is quadratic in X̂ and the expansion is exact (``eq-fs-s1``):

    F_P = F(a′ = E a′) + (η_in²/2P) ⟨tr C Cov u_p⟩_v,  u_p = φ_p(φ_pᵀa − y_p).

With the full meta-gradient the body update also has components along the support inputs
(a′ depends on the support fields), which add Σ_p (∂a′/∂λ_p)ᵀ Γ (∂a′/∂λ_p) to the noise
term, Γ = E_q[δ² φφᵀ] + (b − 1) m mᵀ the second moment of the query gradient b·∂ℓ/∂a′
(``eq-fs-noise``); it is of order 1/P and is averaged over the same draws (including the
readout v and the support labels' noise).

Everything is pure and jittable; P is the static length of the draws' support axis.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from metarep import integrals, metaloss
from metarep.activation import g
from metarep.metaloss import TaskDist

#: Support sets of the field-space average (a power of two: scrambled Sobol points).
SAMPLES = 128


class Draws(NamedTuple):
    """Fixed standard normals of the field-space average (a pytree of arrays).

    fields (n, P, K+M): the support's fields before the Cholesky map; noise (n, P): the
    support labels' noise ζ; readout (n, M): the task readout's standard normal part.
    """

    fields: jax.Array
    noise: jax.Array
    readout: jax.Array


#: Largest dimension of SciPy's Sobol sequence; beyond it (P ≳ 4000) plain normals are drawn.
_SOBOL_MAX_DIM = 21201


@functools.lru_cache(maxsize=32)
def _sobol_normals(samples: int, dim: int, seed: int) -> np.ndarray:
    from scipy.special import ndtri
    from scipy.stats import qmc

    if dim > _SOBOL_MAX_DIM:
        return np.random.default_rng(seed).standard_normal((samples, dim))
    u = qmc.Sobol(dim, scramble=True, seed=seed).random(samples)
    return ndtri(np.clip(u, 1e-16, 1.0 - 1e-16))


def draws(P: int, K: int, M: int, samples: int = SAMPLES, seed: int = 0) -> Draws:
    """:class:`Draws` of ``samples`` support sets of size P (scrambled Sobol, ``seed``)."""
    if P < 1 or samples < 2 or samples & (samples - 1):
        raise ValueError(f"draws need P >= 1 and a power of two >= 2 samples (got {P}, "
                         f"{samples})")
    n = K + M
    z = _sobol_normals(samples, P * n + P + M, seed)
    return Draws(jnp.asarray(z[:, :P * n].reshape(samples, P, n)),
                 jnp.asarray(z[:, P * n:P * n + P]), jnp.asarray(z[:, P * n + P:]))


# -- the law of one support sample ---------------------------------------------------------

class Law(NamedTuple):
    """The law of X_p = φ_p (φ_p, ψ_p)ᵀ for one task: mean X̄ (K, n), covariance Κ
    (K, n, K, n), the four-point functions T[j,a,k,b] = ⟨g_j g_a g_k g_b⟩ (K, n, K, n) and the
    Cholesky factor of the field covariance (n, n); n = K + M."""

    mean: jax.Array
    cov: jax.Array
    four: jax.Array
    root: jax.Array


@functools.lru_cache(maxsize=None)
def _four_indices(K: int, n: int):
    """(rows, cols, where): the distinct index sets {j, a, k, b} (G4 is symmetric under their
    permutations) as 4×4 gathers (u, 4, 1), (u, 1, 4), and the position of each entry of the
    (K, n, K, n) tensor among them."""
    j, a, k, b = np.meshgrid(np.arange(K), np.arange(n), np.arange(K), np.arange(n),
                             indexing="ij")
    keys = np.sort(np.stack([j, a, k, b], axis=-1), axis=-1)       # (K, n, K, n, 4)
    unique, where = np.unique(keys.reshape(-1, 4), axis=0, return_inverse=True)
    return unique[:, :, None], unique[:, None, :], where.reshape(K, n, K, n)


def four_point(O, K: int):
    """T[j, a, k, b] = E[g(h_j) g(h_a) g(h_k) g(h_b)] (K, n, K, n) for fields h ~ N(0, O), O
    (n, n), j, k among the first K (students) and a, b among all n (``eq-g4``); each distinct
    index set is integrated once."""
    r, c, where = _four_indices(K, O.shape[-1])
    return integrals.g4(O[r, c])[where]


def law(Q, R, dist: TaskDist) -> Law:
    """The :class:`Law` of one support sample's X_p at the overlaps (Q, R)."""
    K = Q.shape[-1]
    b = metaloss.blocks(Q, R, dist)
    O = metaloss.field_covariance(Q, R, dist)
    mean = jnp.concatenate([b.C, b.D], axis=1)
    four = four_point(O, K)
    cov = four - mean[:, :, None, None] * mean[None, None, :, :]
    return Law(mean, cov, four, jnp.linalg.cholesky(O))


def empirical(lw: Law, dr: Draws):
    """X̂ (S, K, n) of the draws' support sets, and their fields h (S, P, n)."""
    K = lw.mean.shape[0]
    h = dr.fields @ lw.root.T
    gh = g(h)
    return jnp.einsum("spk,spa->ska", gh[..., :K], gh) / h.shape[1], h


def _second(f, X0, u, w):
    """D²f(X0)[u, w], the second derivative of f at X0 along u and w (forward over forward)."""
    return jax.jvp(lambda x: jax.jvp(f, (x,), (u,))[1], (X0,), (w,))[1]


def expectation(f, lw: Law, P: int, samples=None):
    """E_P[f(X̂)] by ``eq-fs-expansion``: f(X̄) + ⟨∇²f(X̄), Κ⟩/(2P), plus the average of the
    remainder over ``samples`` (X̂ of the draws, (S, K, n)) when given (omit it when f is at
    most quadratic in X̂: the expansion is then exact). f maps (K, n) to an array.

    ⟨∇²f, W⟩ = Σ_β D²f[e_β, W e_β] over the K·n unit directions e_β, by nested forward
    derivatives (cheaper than the Hessian of a many-valued f). The Taylor terms of the
    remainder are linear in the samples' first moment d̄ and second moment M̂ = ⟨d dᵀ⟩ (d =
    X̂ − X̄), so its average is ⟨f(X̂)⟩ − f(X̄) − Df[d̄] − ½⟨∇²f, M̂⟩: one evaluation of f
    per sample, and the whole estimate is

        ⟨f(X̂)⟩ − Df[d̄] + ½⟨∇²f(X̄), Κ/P − M̂⟩."""
    X0 = lw.mean
    m = X0.size
    units = jnp.eye(m, dtype=X0.dtype).reshape(m, *X0.shape)
    weight = lw.cov.reshape(m, m) / P                   # Κ/P (Κ is symmetric)
    if samples is None:
        base = f(X0)
    else:
        d = (samples - X0).reshape(samples.shape[0], m)
        weight = weight - d.T @ d / d.shape[0]
        base = (jnp.mean(jax.vmap(f)(samples), axis=0)
                - jax.jvp(f, (X0,), (jnp.mean(d, axis=0).reshape(X0.shape),))[1])
    cols = weight.reshape(m, *X0.shape)
    curv = jnp.sum(jax.vmap(lambda u, w: _second(f, X0, u, w))(units, cols), axis=0)
    return base + 0.5 * curv


# -- the adapted head given the support ------------------------------------------------------

def head_moments(X, a, dist: TaskDist, eta_in, steps: int, P: int):
    """(mean (n,), covariance (n, n)) of c = (a′, −v) over v and the support labels' noise for
    a support with moments X = [Ĉ, D̂] (K, n) (``eq-fs-head``)."""
    K = X.shape[0]
    C, D = X[:, :K], X[:, K:]
    Pm, LH = metaloss.inner_loop(C, jnp.concatenate([D, jnp.eye(K, dtype=X.dtype)], axis=1),
                                 eta_in, steps)
    L, Hs = LH[:, :-K], LH[:, -K:]
    mu, S = metaloss.adapted_moments(Pm, L, a, dist)
    return mu, S.at[:K, :K].add(dist.noise**2 / P * Hs @ C @ Hs.T)


def _query_blocks(Q, R, dist: TaskDist):
    """Ω_g = [[C, D], [Dᵀ, E]] (n, n): second moments of g of a query's fields."""
    b = metaloss.blocks(Q, R, dist)
    return jnp.block([[b.C, b.D], [b.D.T, b.E]])


def _task_error(mu, S, Og, dist: TaskDist):
    """⟨ε(a′, v)⟩ = ½(μᵀΩ_gμ + tr Ω_g S) + σ²/2 (``eq-task-error`` averaged over c ~ (μ, S))."""
    return 0.5 * (mu @ Og @ mu + jnp.sum(Og * S)) + 0.5 * dist.noise**2


def _at_most_one(steps) -> bool:
    """Whether the inner loop is known at trace time to take at most one step (the error is
    then at most quadratic in X̂: ``eq-fs-expansion`` needs no remainder). A traced step
    count (:func:`metarep.metaloss.inner_loop`) is not."""
    return isinstance(steps, (int, np.integer)) and steps <= 1


def _support_size(dr: Draws) -> int:
    return dr.fields.shape[-2]


def error_and_law(Q, R, a, dist: TaskDist, eta_in, steps: int, dr: Draws,
                  lw: Law | None = None):
    """(F_P(Q, R, a), the support's :class:`Law`): the task-averaged error after ``steps``
    inner steps on P support samples (P from the draws), ``eq-fs-expansion`` (exact for
    ``steps`` ≤ 1, ``eq-fs-s1``).

    The support's law is ``lw`` when given (e.g. that of other overlaps, held fixed: the
    first-order drift differentiates the error with respect to (Q, R) only), else that of
    (Q, R). ``steps`` may be traced (forward-mode derivatives only; the remainder is then
    always averaged, and is zero to rounding for S ≤ 1).
    """
    P = _support_size(dr)
    lw = law(Q, R, dist) if lw is None else lw
    Og = _query_blocks(Q, R, dist)

    def f(X):
        return _task_error(*head_moments(X, a, dist, eta_in, steps, P), Og, dist)

    samples = None if _at_most_one(steps) else empirical(lw, dr)[0]
    return expectation(f, lw, P, samples), lw


def meta_test_error(Q, R, a, dist: TaskDist, eta_in, steps: int, dr: Draws | None):
    """F_P(Q, R, a), the meta-test error after ``steps`` steps on P support samples
    (:func:`error_and_law`); the population error F (``eq-metaloss``,
    :func:`metarep.metaloss.meta_test_error`) when ``dr`` is None (P = ∞)."""
    if dr is None:
        return metaloss.meta_test_error(Q, R, a, dist, eta_in, steps)
    return error_and_law(Q, R, a, dist, eta_in, steps, dr)[0]


def mean_adapted_head_gradient(Q, R, a, dist: TaskDist, eta_in, steps: int, dr: Draws,
                               lw: Law):
    """⟨∂ε/∂a′⟩ = C⟨a′⟩ − D v̄ (K,) over tasks and supports (the FO-MAML head direction);
    ``lw`` the support's :class:`Law` at (Q, R)."""
    K = Q.shape[-1]
    P = _support_size(dr)
    Og = _query_blocks(Q, R, dist)

    def f(X):
        return Og[:K] @ head_moments(X, a, dist, eta_in, steps, P)[0]

    return expectation(f, lw, P, None if _at_most_one(steps) else empirical(lw, dr)[0])


def _support_head(lam, ys, a, eta_in, steps: int):
    """a′ after ``steps`` steps a ← a − η_in Φᵀ(Φa − y)/P on the support fields lam (P, K)."""
    Phi = g(lam)
    for _ in range(steps):
        a = a - eta_in * Phi.T @ (Phi @ a - ys) / lam.shape[0]
    return a


def support_noise(Q, R, a, dist: TaskDist, eta_in, batch, steps: int, dr: Draws, lw: Law):
    """Σ_p ⟨(∂a′/∂λ_p)ᵀ Γ (∂a′/∂λ_p)⟩ (K, K): the support directions of the full
    meta-gradient in the noise term (``eq-fs-noise``), averaged over the draws."""
    K = Q.shape[-1]
    Og = _query_blocks(Q, R, dist)
    _, h = empirical(lw, dr)

    def one(hs, zeta, zv):
        v = dist.v_bar + dist.v_std * zv
        ys = g(hs[:, K:]) @ v + dist.noise * zeta
        def head(lam):              # a′ and, as the auxiliary output, a′ again
            ap = _support_head(lam, ys, a, eta_in, steps)
            return ap, ap

        J, ap = jax.jacrev(head, has_aux=True)(hs[:, :K])                   # (K, P, K), (K,)
        c = jnp.concatenate([ap, -v])
        m = Og[:K] @ c
        Gam = (jnp.einsum("a,b,jakb->jk", c, c, lw.four) + dist.noise**2 * Og[:K, :K]
               + (batch - 1.0) * jnp.outer(m, m))
        return jnp.einsum("jpk,jm,mpl->kl", J, Gam, J)

    return jnp.mean(jax.vmap(one)(h, dr.noise, dr.readout), axis=0)


def noise_term(Q, R, a, dist: TaskDist, eta_in, batch, steps: int, first_order: bool,
               dr: Draws, lw: Law | None = None):
    """Φ (K, K) of dQ/dα = … + (η²/b) Φ with P support samples: the query term of
    :func:`metarep.metaloss.noise_term` with the moments of c averaged over the supports
    (``eq-fs-expansion``), plus :func:`support_noise` for the full meta-gradient; ``lw`` the
    support's :class:`Law` at (Q, R) (computed when not given)."""
    K = Q.shape[-1]
    P = _support_size(dr)
    lw = law(Q, R, dist) if lw is None else lw

    def f(X):
        m4, second = metaloss.fourth_moments(*head_moments(X, a, dist, eta_in, steps, P), K)
        return jnp.concatenate([m4.ravel(), second.ravel()])

    flat = expectation(f, lw, P, empirical(lw, dr)[0] if steps > 0 else None)
    nk = K * (K + 1) // 2
    m4, second = flat[:-K * K].reshape(nk, -1), flat[-K * K:].reshape(K, K)
    phi = metaloss.noise_from_moments(Q, R, dist, m4, second)
    if first_order or steps == 0:
        return phi
    return phi + support_noise(Q, R, a, dist, eta_in, batch, steps, dr, lw)


__all__ = ["SAMPLES", "Draws", "draws", "Law", "four_point", "law", "empirical",
           "expectation", "head_moments", "error_and_law", "meta_test_error", "mean_adapted_head_gradient",
           "support_noise", "noise_term"]
