r"""The population meta-loss of online meta-learning as N → ∞.

Everything here is a pure, jittable function of the order parameters

* Q (K, K) = W Wᵀ/N, R (K, M) = W Bᵀ/N, the head initialisation a (K,),

and of the task distribution :class:`TaskDist` (T, v̄, σ_v, σ_B, σ), whose numbers are arrays so
that they can be traced (vmapped over in sweeps). Nothing here depends on how the parameters
evolve; :mod:`metarep.ode` builds the dynamics on top.

Equations (labels as in the book):

* task overlaps (teacher spread σ_B): R^τ = √(1−σ_B²) R, T^τ = (1−σ_B²) T + σ_B² I
  (``eq-task-overlaps``);
* second moments of the fields, C = I2(Q) (K×K), D = I2(Q, R^τ, T^τ) (K×M), E = I2(T^τ) (M×M),
  with I2 from :mod:`metarep.integrals`;
* the population inner loop (S steps, rate η_in) is linear: a′ = P_S a + L_S v with
  P_{s+1} = (I − η_in C) P_s, L_{s+1} = (I − η_in C) L_s + η_in D, P₀ = I, L₀ = 0
  (``eq-inner-loop``; stable iff η_in λ_max(C) < 2, ``eq-inner-stability``);
* the error of a task after adaptation, ε(a′, v) = ½[a′ᵀCa′ − 2a′ᵀDv + vᵀEv] + σ²/2
  (``eq-task-error``);
* its average over v ~ N(v̄, σ_v² I) is exact because ε is quadratic in v:
  F = ε(a′(v̄), v̄) + ½σ_v² tr(LᵀCL − 2LᵀD + E)              (meta-test error, ``eq-metaloss``)
* the oracle head per task: ½⟨vᵀ(E − DᵀC⁻¹D)v⟩ + σ²/2;
* the noise term of the Q-equation (``eq-noise``), Φ_kl = ⟨δ² a′_k a′_l g'(λ_k)g'(λ_l)⟩ + σ²⟨a′_k a′_l⟩ J2_kl,
  δ = Σ_p c_p g(h_p), h = (λ, ν^τ), c = (a′, −v): a sum of I4 integrals weighted by fourth
  moments of the affine-in-v vector (a′, c), taken exactly with Isserlis' theorem.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from metarep import integrals


class TaskDist(NamedTuple):
    """The distribution of tasks (a JAX pytree; every leaf may be traced).

    T: (M, M) meta-teacher overlaps B Bᵀ/N; v_bar: (M,) mean readout v̄; v_std: σ_v;
    spread: teacher spread σ_B ∈ [0, 1); noise: label-noise std σ.
    """

    T: jax.Array
    v_bar: jax.Array
    v_std: jax.Array
    spread: jax.Array
    noise: jax.Array


class Blocks(NamedTuple):
    """Task-level second moments: C (K,K), D (K,M), E (M,M); task overlaps Rt (K,M), Tt (M,M)."""

    C: jax.Array
    D: jax.Array
    E: jax.Array
    Rt: jax.Array
    Tt: jax.Array


def task_dist(cfg, T=None) -> TaskDist:
    """The :class:`TaskDist` of a :class:`~metarep.config.Config` (T defaults to the identity)."""
    M = cfg.M
    T = jnp.eye(M) if T is None else jnp.asarray(T, dtype=jnp.float64)
    return TaskDist(T=T, v_bar=jnp.asarray(np.asarray(cfg.v_bar), dtype=jnp.float64),
                    v_std=jnp.float64(cfg.v_std), spread=jnp.float64(cfg.teacher_spread),
                    noise=jnp.float64(cfg.label_noise))


def task_overlaps(R, T, spread):
    """R^τ = √(1−σ_B²) R and T^τ = (1−σ_B²) T + σ_B² I (the overlaps seen by one task)."""
    s2 = spread**2
    return jnp.sqrt(1.0 - s2) * R, (1.0 - s2) * T + s2 * jnp.eye(T.shape[-1])


def blocks(Q, R, dist: TaskDist) -> Blocks:
    """C = I2(Q), D = I2(Q, R^τ, T^τ), E = I2(T^τ).

    Q enters *unsymmetrised*: C_kl is built from Q_kl (and the diagonal), so that ∂F/∂Q of a
    function of these blocks is the derivative with respect to the independent entries Q_kl
    (the chain rule of :mod:`metarep.ode` symmetrises it).
    """
    Rt, Tt = task_overlaps(R, dist.T, dist.spread)
    dq, dt = jnp.diagonal(Q), jnp.diagonal(Tt)
    C = integrals.i2_matrix(Q, dq, dq)
    D = integrals.i2_matrix(Rt, dq, dt)
    E = integrals.i2_matrix(Tt, dt, dt)
    return Blocks(C, D, E, Rt, Tt)


#: Inner loops up to this many steps are unrolled at trace time, longer ones use fori_loop.
_UNROLL_MAX = 8


def inner_loop(C, D, eta_in, steps: int):
    """(P_S, L_S) of the linear population inner loop a′ = P_S a + L_S v (S = ``steps`` ≥ 0).

    P_{s+1} = (I − η_in C) P_s, L_{s+1} = (I − η_in C) L_s + η_in D, P₀ = I, L₀ = 0.
    Shapes: C (K,K), D (K,M) → P (K,K), L (K,M). ``steps`` is a static int, or a traced
    integer (one compiled program for every S, e.g. test-time step counts; then a loop of
    dynamic length, which forward-mode but not reverse-mode derivatives go through).
    """
    K = C.shape[-1]
    G = jnp.eye(K) - eta_in * C

    def step(_, PL):
        P, L = PL
        return G @ P, G @ L + eta_in * D

    PL = (jnp.eye(K, dtype=C.dtype), jnp.zeros_like(D))
    if isinstance(steps, (int, np.integer)) and steps <= _UNROLL_MAX:
        # a few steps: unrolled, no loop overhead inside the ODE
        for i in range(steps):
            PL = step(i, PL)
        return PL
    return jax.lax.fori_loop(0, steps, step, PL)


def _mean_error(b: Blocks, P, L, a, dist: TaskDist):
    """F = ε(a′(v̄), v̄) + ½σ_v² tr(LᵀCL − 2LᵀD + E), ε(a′,v) = ½[a′ᵀCa′ − 2a′ᵀDv + vᵀEv] + σ²/2."""
    C, D, E = b.C, b.D, b.E
    ap = P @ a + L @ dist.v_bar
    v = dist.v_bar
    eps_mean = 0.5 * (ap @ C @ ap - 2.0 * ap @ D @ v + v @ E @ v)
    H = L.T @ C @ L - 2.0 * L.T @ D + E
    return eps_mean + 0.5 * dist.v_std**2 * jnp.trace(H) + 0.5 * dist.noise**2


def meta_test_error(Q, R, a, dist: TaskDist, eta_in, steps: int):
    """The meta-test error F(Q, R, a): the task-averaged error after ``steps`` inner steps.

    Exact average over v ~ N(v̄, σ_v² I), teacher spread and label noise (see module doc).
    With ``steps`` = S of the training configuration this is the population meta-loss whose
    chain rule is the ODE drift; with other values it is the error after s test-time steps.
    """
    b = blocks(Q, R, dist)
    P, L = inner_loop(b.C, b.D, eta_in, steps)
    return _mean_error(b, P, L, a, dist)


def first_order_error(Q, R, a, Q_in, R_in, dist: TaskDist, eta_in, steps: int):
    """Task-averaged error with the adapted head a′ = P a + L v built from (Q_in, R_in).

    The inner loop uses the overlaps (Q_in, R_in), the error is evaluated with (Q, R); the
    first-order (FO-MAML) drift differentiates with respect to (Q, R) only, at Q_in = Q,
    R_in = R, i.e. with a′ held fixed. Equal to :func:`meta_test_error` when Q_in = Q, R_in = R.
    """
    b_in = blocks(Q_in, R_in, dist)
    P, L = inner_loop(b_in.C, b_in.D, eta_in, steps)
    return _mean_error(blocks(Q, R, dist), P, L, a, dist)


def mean_adapted_head_gradient(Q, R, a, dist: TaskDist, eta_in, steps: int):
    """⟨∂ε/∂a′⟩ = C⟨a′⟩ − D v̄ = C(P a + L v̄) − D v̄, shape (K,) (the FO-MAML head direction)."""
    b = blocks(Q, R, dist)
    P, L = inner_loop(b.C, b.D, eta_in, steps)
    return b.C @ (P @ a + L @ dist.v_bar) - b.D @ dist.v_bar


def oracle_error(Q, R, dist: TaskDist):
    """Error with the best head of each task: ½⟨vᵀ(E − DᵀC⁻¹D)v⟩ + σ²/2.

    ⟨vᵀHv⟩ = v̄ᵀHv̄ + σ_v² tr H. Measures the representation itself (no adaptation dynamics).
    """
    b = blocks(Q, R, dist)
    H = b.E - b.D.T @ jnp.linalg.solve(b.C, b.D)
    v = dist.v_bar
    return 0.5 * (v @ H @ v + dist.v_std**2 * jnp.trace(H)) + 0.5 * dist.noise**2


def no_adaptation_error(Q, R, a, dist: TaskDist):
    """Task-averaged error of the head initialisation itself (zero adaptation steps)."""
    return meta_test_error(Q, R, a, dist, 0.0, 0)


def zero_predictor_error(dist: TaskDist):
    """Error of the predictor f ≡ 0, ½⟨vᵀE^τ v⟩ + σ²/2 = ½(v̄ᵀEv̄ + σ_v² tr E) + σ²/2."""
    _, Tt = task_overlaps(jnp.zeros((1, dist.T.shape[-1])), dist.T, dist.spread)
    dt = jnp.diagonal(Tt)
    E = integrals.i2_matrix(Tt, dt, dt)
    v = dist.v_bar
    return 0.5 * (v @ E @ v + dist.v_std**2 * jnp.trace(E)) + 0.5 * dist.noise**2


def field_covariance(Q, R, dist: TaskDist):
    """Covariance Ω of the fields h = (λ, ν^τ) of one task (``eq-field-covariance`` with the
    task overlaps ``eq-task-overlaps``), shape (K+M, K+M)."""
    Rt, Tt = task_overlaps(R, dist.T, dist.spread)
    return jnp.block([[Q, Rt], [Rt.T, Tt]])


@functools.lru_cache(maxsize=None)
def _pair_indices(K: int, n: int):
    """Static index arrays for the pairs k ≤ l (students) × p ≤ q (all n fields).

    rows, cols: (10, nk, np) — the (row, column) of the ten covariance entries
    (kk, kl, kp, kq, ll, lp, lq, pp, pq, qq) of I4's argument order; kk, ll: (nk,) pairs.
    """
    kk, ll = np.triu_indices(K)
    pp, qq = np.triu_indices(n)
    k, l = kk[:, None], ll[:, None]
    p, q = pp[None, :], qq[None, :]
    pairs = [(k, k), (k, l), (k, p), (k, q), (l, l), (l, p), (l, q), (p, p), (p, q), (q, q)]
    shape = (len(kk), len(pp))
    rows = np.stack([np.broadcast_to(r, shape) for r, _ in pairs])
    cols = np.stack([np.broadcast_to(c, shape) for _, c in pairs])
    return rows, cols, kk, ll


def fourth_moments(mu, S, K: int):
    """(m4, second) of c = (a′, −v) with mean ``mu`` (n,) and covariance ``S`` (n, n), K students.

    m4 (nk, np): ⟨c_k c_l c_p c_q⟩ for the pairs k ≤ l (students) × p ≤ q (all n fields), by
    Isserlis' theorem (``eq-isserlis``): ⟨c_i c_j c_r c_s⟩ = μ_iμ_jμ_rμ_s + S_ij μ_rμ_s
    + S_ir μ_jμ_s + S_is μ_jμ_r + S_jr μ_iμ_s + S_js μ_iμ_r + S_rs μ_iμ_j + S_ijS_rs + S_irS_js
    + S_isS_jr; second (K, K): ⟨a′ a′ᵀ⟩ = μ_A μ_Aᵀ + S_AA.
    """
    n = mu.shape[-1]
    rows, cols, _, _ = _pair_indices(K, n)
    s = S[rows, cols]                                  # (10, nk, np)
    mk, ml, mp, mq = mu[rows[0]], mu[cols[1]], mu[cols[2]], mu[cols[3]]  # (nk, np) each
    s_kl, s_kp, s_kq, s_lp, s_lq, s_pq = s[1], s[2], s[3], s[5], s[6], s[8]
    m4 = ((mk * ml + s_kl) * (mp * mq + s_pq) + ml * (s_kp * mq + s_kq * mp)
          + mk * (s_lp * mq + s_lq * mp) + s_kp * s_lq + s_kq * s_lp)
    return m4, jnp.outer(mu[:K], mu[:K]) + S[:K, :K]


def noise_from_moments(Q, R, dist: TaskDist, m4, second):
    """Φ (K, K) from the moments of c = (a′, −v) (:func:`fourth_moments`, averaged over
    whatever a′ depends on): Φ_kl = Σ_pq ⟨c_k c_l c_p c_q⟩ I4[k,l,p,q] + σ² ⟨a′_k a′_l⟩ J2_kl.

    Both factors are symmetric under k ↔ l and p ↔ q, so only the pairs k ≤ l, p ≤ q are
    evaluated (weight 2 for p < q): a third of the I4 integrals of the full tensor.
    """
    K = Q.shape[-1]
    n = K + dist.T.shape[-1]
    rows, cols, kk, ll = _pair_indices(K, n)
    o = field_covariance(Q, R, dist)[rows, cols]       # (10, nk, np)
    i4 = integrals.i4(*o)                  # o: entries kk, kl, kp, kq, ll, lp, lq, pp, pq, qq
    weight = np.where(cols[2] == cols[3], 1.0, 2.0)   # p < q counted twice
    upper = jnp.sum(weight * m4 * i4, axis=-1)        # Φ_kl for the pairs k ≤ l, (nk,)
    phi = jnp.zeros((K, K), dtype=Q.dtype).at[kk, ll].set(upper)
    phi = phi + jnp.triu(phi, 1).T
    dq = jnp.diagonal(Q)
    return phi + dist.noise**2 * second * integrals.j2_matrix(Q, dq, dq)


def adapted_moments(P, L, a, dist: TaskDist):
    """(mean (n,), covariance (n, n)) of c = (a′, −v) over v ~ N(v̄, σ_v² I) for the head
    a′ = P a + L v: μ = (P a + L v̄, −v̄), S = σ_v² U Uᵀ, U = (L; −I)."""
    M = L.shape[-1]
    mu = jnp.concatenate([P @ a + L @ dist.v_bar, -dist.v_bar])
    U = jnp.concatenate([L, -jnp.eye(M, dtype=L.dtype)], axis=0)
    return mu, dist.v_std**2 * U @ U.T


def noise_term(Q, R, a, dist: TaskDist, eta_in, steps: int):
    """Φ (K, K) of dQ/dα = … + (η²/b) Φ (``eq-noise``), population inner loop.

    Φ_kl = Σ_pq ⟨a′_k a′_l c_p c_q⟩_v I4[k,l,p,q] + σ² ⟨a′_k a′_l⟩_v J2(Q)_kl with
    c = (a′, −v), a′ = P a + L v. Since a′_k = c_k, all four factors are entries of c, which
    is affine in v (:func:`adapted_moments`); its fourth moments follow from Isserlis' theorem
    (:func:`fourth_moments`). The adapted head's dependence on v (through L) and on the
    task's fields (through D^τ) is included.
    """
    b = blocks(Q, R, dist)
    P, L = inner_loop(b.C, b.D, eta_in, steps)
    mu, S = adapted_moments(P, L, a, dist)
    return noise_from_moments(Q, R, dist, *fourth_moments(mu, S, Q.shape[-1]))


__all__ = ["TaskDist", "Blocks", "task_dist", "task_overlaps", "blocks", "inner_loop",
           "meta_test_error", "first_order_error", "mean_adapted_head_gradient",
           "oracle_error", "no_adaptation_error", "zero_predictor_error", "field_covariance",
           "fourth_moments", "noise_from_moments", "adapted_moments", "noise_term"]
