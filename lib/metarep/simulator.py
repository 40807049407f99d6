r"""The microscopic process at finite N: online meta-training, one task per step.

One meta-training step (:func:`meta_step`) draws a fresh task τ,

* readout v^τ ~ N(v̄, σ_v² I) (M,), first layer B^τ = √(1−σ_B²) B + σ_B Ξ^τ (M, N) with fresh
  Ξ^τ_mi ~ N(0, 1), labels y = Σ_m v^τ_m g(B^τ_m·x/√N) + σ ζ, ζ ~ N(0, 1);

adapts the head a (K,) on the task's support (S steps of rate η_in, ANIL),

* ``support = "inf"``: a ← a − η_in (C a − D^τ v^τ), C = I2(Q), D^τ = I2(Q, R^τ, T^τ) built
  from the *microscopic* overlaps Q = W Wᵀ/N, R^τ = W B^τᵀ/N, T^τ = B^τ B^τᵀ/N;
* ``support = P``: a ← a − η_in Φᵀ(Φ a − y_s)/P with Φ_pk = g(W_k·x_p/√N) on P fresh support
  samples, the same P samples for all S steps;

and updates the body W (K, N) and the head initialisation on b fresh query samples,

* ℓ = (1/2b) Σ_q (Σ_k a′_k g(W_k·x_q/√N) − y_q)²,
  W ← W − η ∇_W ℓ,  a ← a − (η_a/N) ∇_a ℓ.

The gradients come from automatic differentiation of ℓ through the inner loop (the full
meta-gradient, second-order MAML term included); with ``first_order`` a′ is held fixed
(``stop_gradient``) and the head initialisation moves along ∂ℓ/∂a′. ℓ depends on W only
through the fields λ = X Wᵀ/√N and (population inner loop) Q and R^τ, so autodiff runs on
ℓ(λ, Q, R^τ, a) and the exact chain rule of these linear/quadratic maps gives ∇_W ℓ
(:func:`_coefficients`); the NumPy reference with hand-written gradients checks it.
Time is α = steps/N.

Inside the compiled training loop (:func:`_advance`) the body is kept as W = Λ Y + H B and Q, R
are updated in closed form from the step's coefficients, so that the second-order term E W + F B
of ΔW and the overlaps cost O(K²) per step instead of O(K² N); the loop equals repeated
:func:`meta_step` to rounding (tested), and W, Q, R are rebuilt exactly at every chunk end.

Random numbers dominate the cost of a step (the arithmetic is a few matrix-vector products of
size (K+M)×N). The expensive ones are the inputs, (P + b)·N normals per step, and Ξ^τ, M·N
more; they come from :func:`metarep.gaussian.normal` (Box–Muller, about 2.5× faster than
``jax.random.normal`` in float64), and the training loop draws those of up to 16 steps in one
call (:func:`step_key`), which spreads the fixed cost of a call over the block.
Ξ^τ enters the step only through its inner products with a handful of N-vectors (the support
and query inputs, and for ``support = "inf"`` also W and B), except for the full meta-gradient
with ``support = "inf"``, whose W-gradient contains B^τ itself. In all other cases the step
draws those inner products directly from their exact joint distribution (:func:`xi_overlaps`),
which costs O((K+M+P+b)²) normals instead of M·N, and the process is the same in law.

The meta-test error is estimated microscopically (:func:`meta_test_error_mc`): fresh tasks,
adaptation as in training, then the error on fresh test samples, without the theory's
formulas. With the population inner loop and σ_B = 0 it is also available in closed form from
the measured overlaps (``simulate(..., eg_method="closed_form")``), exact at any N. Everything runs in ``cfg.dtype`` (float64 by default), jitted, ``vmap``-ed over
seeds, and unchanged on a GPU.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from functools import partial
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from metarep import gaussian
from metarep.activation import g
from metarep.compile_cache import persistent_jit
from metarep.config import Config
from metarep.divergence import explain
from metarep.errors import ConfigError, DivergenceError, Interrupted
from metarep.initial import initial_weights, split_keys
from metarep.integrals import i2_matrix
from metarep.metaloss import TaskDist, meta_test_error
from metarep.trajectory import Trajectory

#: Default Monte-Carlo sizes of the recorded meta-test error: tasks, test samples per task.
EG_TASKS = 2000
EG_TEST = 50

#: Bound on the number of floats held at once by the vmapped single steps of
#: :func:`step_increments` and the "inputs" Monte Carlo (memory, not speed).
_CHUNK_FLOATS = 2**24
#: Bound on the items vmapped together inside ``lax.map``: XLA's CPU runtime (jaxlib 0.10.2,
#: two threads) deadlocked on a batched eigh of ~9000 small matrices there (Ξ^τ's exact law
#: with a finite support); 2200 ran, and batches beyond ~10³ gain no speed.
_MAX_BATCH = 1024


def _batch(n: int, floats_per_item: int) -> int:
    """Items per ``lax.map`` batch: all n if they fit both bounds above, at least 1."""
    return int(max(1, min(n, _CHUNK_FLOATS // floats_per_item, _MAX_BATCH)))


class Spec(NamedTuple):
    """Static structure of a step (hashable: it selects the compiled program).

    P is None for the population inner loop. ``explicit_xi``: Ξ^τ is drawn as an (M, N)
    array (needed only by the full meta-gradient with ``support = "inf"`` and σ_B > 0);
    ``spread``: σ_B > 0.
    """

    K: int
    M: int
    N: int
    S: int
    P: int | None
    b: int
    first_order: bool
    spread: bool
    explicit_xi: bool
    dtype: str


class Params(NamedTuple):
    """Numerical hyper-parameters (traced, so changing them does not recompile).

    eta, eta_in, eta_head: η, η_in, η_a; v_bar (M,): v̄; v_std: σ_v; spread: σ_B; noise: σ.
    """

    eta: jax.Array
    eta_in: jax.Array
    eta_head: jax.Array
    v_bar: jax.Array
    v_std: jax.Array
    spread: jax.Array
    noise: jax.Array


def spec_of(cfg: Config) -> Spec:
    """The static :class:`Spec` of a configuration."""
    spread = cfg.teacher_spread > 0
    return Spec(K=cfg.K, M=cfg.M, N=cfg.N, S=cfg.inner_steps, P=cfg.P, b=cfg.query_batch,
                first_order=cfg.first_order, spread=spread,
                explicit_xi=spread and cfg.P is None and not cfg.first_order, dtype=cfg.dtype)


def params_of(cfg: Config) -> Params:
    """The traced :class:`Params` of a configuration, in ``cfg.dtype``."""
    dt = jnp.dtype(cfg.dtype)
    return Params(*(jnp.asarray(x, dtype=dt) for x in (
        cfg.eta, cfg.eta_in, cfg.eta_head, cfg.v_bar, cfg.v_std, cfg.teacher_spread,
        cfg.label_noise)))


# ---------------------------------------------------------------------------------------
# Exact law of the inner products of a fresh Gaussian matrix with fixed vectors
# ---------------------------------------------------------------------------------------
def xi_overlaps(key, G, N: int, M: int, with_gram: bool = True):
    r"""Draw (V Ξᵀ/N, Ξ Ξᵀ/N) for Ξ (M, N) with i.i.d. N(0, 1) entries, knowing only G.

    G = V Vᵀ/N (r, r) is the Gram matrix of r fixed vectors V (r, N). Write G = U diag(λ) Uᵀ;
    the unit vectors e_i = Vᵀ U_i/√(N λ_i) (λ_i > 0) span the rows of V, and the coordinates
    z_mi = Ξ_m·e_i are i.i.d. N(0, 1). Then exactly (in law)

        V Ξᵀ/N = U diag(√(λ/N)) Z,        Ξ Ξᵀ/N = (Zᵀ Z + A Aᵀ)/N,

    where A Aᵀ ~ Wishart(N − ρ, I_M) is the Gram of Ξ's components orthogonal to the ρ-dimensional
    span of V (Bartlett: A lower triangular, A_mm² ~ χ²(N − ρ − m), A_mn ~ N(0, 1) below).
    Directions with λ_i at rounding level count as absent (ρ = number kept), which keeps the
    dimensions adding up to N. Z is realised as Uᵀ Z₀ with Z₀ (r, M) i.i.d. N(0, 1), so that
    V Ξᵀ/N = √G Z₀/√N and Zᵀ Z = Z₀ᵀ Π Z₀ (Π: projector on the kept eigenvectors) are continuous
    in G: a rounding-level change of G (a run cut at another step) changes the draw by
    rounding only, even when eigenvalues of G nearly coincide and U is ill-determined.
    Returns VX (r, M) and, if ``with_gram``, XX (M, M).
    """
    r = G.shape[-1]
    lam, U = jnp.linalg.eigh(G)
    keep = lam > 64 * r * jnp.finfo(G.dtype).eps * jnp.max(jnp.abs(lam))
    kz, kc, kl = jax.random.split(key, 3)
    Z0 = jax.random.normal(kz, (r, M), G.dtype)
    root = (U * jnp.sqrt(jnp.where(keep, lam, 0.0) / N)) @ U.T      # √(G/N)
    VX = root @ Z0
    if not with_gram:
        return VX
    Uk = U * keep
    PZ = Uk.T @ Z0
    df = N - jnp.sum(keep) - jnp.arange(M)
    chi2 = 2.0 * jax.random.gamma(kc, df.astype(G.dtype) / 2.0, dtype=G.dtype)
    A = jnp.diag(jnp.sqrt(chi2)) + jnp.tril(jax.random.normal(kl, (M, M), G.dtype), -1)
    return VX, (PZ.T @ PZ + A @ A.T) / N


# ---------------------------------------------------------------------------------------
# One meta-training step
# ---------------------------------------------------------------------------------------
class Draw(NamedTuple):
    """The random numbers of one step.

    v (M,): readout v^τ; X (n, N): inputs, support rows first, then the b query rows
    (n = P + b, or b for ``support = "inf"``); zeta (n,): label noise; Xi (M, N) or None: Ξ^τ
    when drawn explicitly; kxi: key for the exact law of Ξ^τ's inner products otherwise.
    """

    v: jax.Array
    X: jax.Array
    zeta: jax.Array
    Xi: jax.Array | None
    kxi: jax.Array


class XiStats(NamedTuple):
    """Inner products of Ξ^τ, divided by N: W Ξᵀ (K, M), B Ξᵀ (M, M), X Ξᵀ (n, M), Ξ Ξᵀ (M, M).

    Entries the step does not need are None.
    """

    WXi: jax.Array | None
    BXi: jax.Array | None
    XXi: jax.Array | None
    XiXi: jax.Array | None


class Task(NamedTuple):
    """A task and its samples, as one step sees them (see :func:`sample_task`).

    v (M,), X (n, N), y (n,) labels; for ``support = "inf"`` the task overlaps
    Rt = W B^τᵀ/N (K, M) and Tt = B^τ B^τᵀ/N (M, M) of the population inner loop (else None);
    Bt (M, N): B^τ, when the step needs it as an array (no spread, or Ξ^τ drawn explicitly).
    """

    v: jax.Array
    X: jax.Array
    y: jax.Array
    Rt: jax.Array | None
    Tt: jax.Array | None
    Bt: jax.Array | None


def _inner(A, C):
    """A Cᵀ (rows of A × rows of C) for N-long rows, with the longer operand on the left,
    which XLA's CPU dot handles several times faster for a single row."""
    return (C @ A.T).T if A.shape[0] < C.shape[0] else A @ C.T


def _n_rows(spec: Spec) -> int:
    return (spec.P or 0) + spec.b


def _draw(key, spec: Spec, prm: Params) -> Draw:
    """Readout, inputs, label noise and (if explicit) Ξ^τ of one step."""
    M, N, n = spec.M, spec.N, _n_rows(spec)
    dt = jnp.dtype(spec.dtype)
    kx, ks, kxi = jax.random.split(key, 3)
    # the barrier makes XLA draw the normals once: otherwise it fuses (and so repeats) their
    # generation into each of the several products that read them
    Z = jax.lax.optimization_barrier(
        gaussian.normal(kx, (n + (M if spec.explicit_xi else 0), N), dt))
    small = gaussian.normal(ks, (M + n,), dt)
    return Draw(prm.v_bar + prm.v_std * small[:M], Z[:n], small[M:],
                Z[n:] if spec.explicit_xi else None, kxi)


#: Random numbers (floats per seed) drawn at once for a block of training steps.
_BLOCK_FLOATS = 2**14


def _block_length(spec: Spec) -> int:
    """Steps whose random numbers the training loop draws in one call (1 to 16).

    Drawing the inputs of several steps at once spreads the fixed cost of a random-number
    call (key derivation, small draws) over the block; it matters when a step needs few
    numbers (N ≈ 10³) and is 1 once a step's inputs alone reach ``_BLOCK_FLOATS``.
    """
    rows = _n_rows(spec) + (spec.M if spec.explicit_xi else 0)
    return max(1, min(16, _BLOCK_FLOATS // (rows * spec.N)))


def step_key(cfg: Config, train, t):
    """Key of training step t in the stream ``train`` (:func:`run_keys`):
    fold_in(fold_in(train, t // L), t % L), with L the number of steps whose random numbers
    the training loop draws together (1 to 16, fixed by K, M, N, P, b)."""
    L = _block_length(spec_of(cfg))
    return jax.random.fold_in(jax.random.fold_in(train, t // L), t % L)


def _draw_block(train, block, spec: Spec, prm: Params) -> Draw:
    """The draws of steps block·L … block·L + L − 1 (leading axis L), each with its
    :func:`step_key`."""
    kb = jax.random.fold_in(train, block)
    steps = jnp.arange(_block_length(spec))
    return jax.vmap(lambda i: _draw(jax.random.fold_in(kb, i), spec, prm))(steps)


def _implicit_xi(kxi, Q, R, T, lam, nu0, XX, spec: Spec) -> XiStats:
    """Ξ^τ's inner products from their exact law (:func:`xi_overlaps`), when Ξ^τ is not drawn.

    Finite support: only X Ξᵀ/N is needed (labels). Population inner loop (first order):
    W Ξᵀ, B Ξᵀ, X Ξᵀ and Ξ Ξᵀ jointly, from the Gram matrix of [W; B; X], which is built from
    Q, R, T, the fields lam = X Wᵀ/√N, nu0 = X Bᵀ/√N and XX = X Xᵀ/N.
    """
    N, M, K = spec.N, spec.M, spec.K
    if spec.P is not None:
        return XiStats(None, None, xi_overlaps(kxi, XX, N, M, with_gram=False), None)
    sq = math.sqrt(N)
    G = jnp.block([[Q, R, lam.T / sq], [R.T, T, nu0.T / sq], [lam / sq, nu0 / sq, XX]])
    VXi, XiXi = xi_overlaps(kxi, G, N, M)
    return XiStats(VXi[:K], VXi[K:K + M], VXi[K + M:], XiXi)


def _teacher_side(nu0, R, T, xs: XiStats | None, spec: Spec, prm: Params):
    """Teacher fields ν^τ = X B^τᵀ/√N (n, M) and, for the population loop, R^τ, T^τ and
    B^τ Bᵀ/N, from B^τ = c B + σ_B Ξ^τ, c = √(1 − σ_B²)."""
    if xs is None:
        return nu0, R, T, T
    c, s = jnp.sqrt(1.0 - prm.spread**2), prm.spread
    nut = c * nu0 + s * math.sqrt(spec.N) * xs.XXi
    if spec.P is not None:
        return nut, None, None, None
    Rt = c * R + s * xs.WXi
    Tt = c**2 * T + c * s * (xs.BXi + xs.BXi.T) + s**2 * xs.XiXi
    return nut, Rt, Tt, c * T + s * xs.BXi.T


def inner_loop(a, grad, S: int, eta_in):
    """S steps of gradient descent on the head: a ← a − η_in grad(a); returns a′ (K,)."""
    for _ in range(S):
        a = a - eta_in * grad(a)
    return a


def _adapt(lam, Q, Rt, Tt, y, v, a, spec: Spec, prm: Params):
    """Adapted head a′ (K,) from the low-dimensional statistics the inner loop depends on.

    support = "inf": grad(a) = C a − D^τ v, C = I2(Q), D^τ = I2(Q, R^τ, T^τ);
    support = P: grad(a) = Φᵀ(Φ a − y_s)/P, Φ = g(λ_s) the support rows of lam (n, K).
    """
    if spec.P is None:
        qd = jnp.diagonal(Q)
        C = i2_matrix(Q, qd, qd)
        D = i2_matrix(Rt, qd, jnp.diagonal(Tt))

        def grad(h):
            return C @ h - D @ v
    else:
        Phi, ys = g(lam[:spec.P]), y[:spec.P]

        def grad(h):
            return Phi.T @ (Phi @ h - ys) / spec.P
    return inner_loop(a, grad, spec.S, prm.eta_in)


def _query_loss(lam_q, a_prime, y_q):
    """ℓ = (1/2b) Σ_q (Σ_k a′_k g(λ_qk) − y_q)² over the query fields lam_q (b, K)."""
    return 0.5 * jnp.mean((g(lam_q) @ a_prime - y_q) ** 2)


def _coefficients(lam, Q, Rt, Tt, y, v, a, spec: Spec, prm: Params):
    r"""The step's update of (W, a), in coefficients: ΔW = A X/√N + E W + F B^τ, Δa.

    The loss depends on W only through λ = X Wᵀ/√N (n, K) and, for ``support = "inf"``,
    Q = W Wᵀ/N and R^τ = W B^τᵀ/N. Autodiff of ℓ(λ, Q, R^τ, a) through the inner loop gives
    ḡ_λ, ḡ_Q (unsymmetrised entries), ḡ_R, ḡ_a, and the chain rule through these linear and
    quadratic maps gives ∇_W ℓ = ḡ_λᵀ X/√N + (ḡ_Q + ḡ_Qᵀ) W/N + ḡ_R B^τ/N, so

        A = −η ḡ_λᵀ (K, n),  E = −η (ḡ_Q + ḡ_Qᵀ)/N (K, K),  F = −η ḡ_R/N (K, M),
        Δa = −(η_a/N) ḡ_a.

    First order: a′ is a constant for the W-gradient (E, F are None) and ḡ_a = ∂ℓ/∂a′.
    Finite support: the inner loop depends on W through the support rows of λ (E, F None).
    """
    q = slice(spec.P or 0, None)
    if spec.first_order:
        a_prime = jax.lax.stop_gradient(_adapt(lam, Q, Rt, Tt, y, v, a, spec, prm))
        g_lam, g_a = jax.grad(_query_loss, argnums=(0, 1))(lam[q], a_prime, y[q])
        g_lam = jnp.zeros_like(lam).at[q].set(g_lam)
        E = F = None
    elif spec.P is None:
        def loss(lam, Q, Rt, a):
            return _query_loss(lam, _adapt(None, Q, Rt, Tt, y, v, a, spec, prm), y)
        g_lam, g_Q, g_R, g_a = jax.grad(loss, argnums=(0, 1, 2, 3))(lam, Q, Rt, a)
        E = -prm.eta * (g_Q + g_Q.T) / spec.N
        F = -prm.eta * g_R / spec.N
    else:
        def loss(lam, a):
            return _query_loss(lam[q], _adapt(lam, None, None, None, y, v, a, spec, prm), y[q])
        g_lam, g_a = jax.grad(loss, argnums=(0, 1))(lam, a)
        E = F = None
    return -prm.eta * g_lam.T, E, F, -(prm.eta_head / spec.N) * g_a


def _labels(nut, v, zeta, prm: Params):
    """y = g(ν^τ) v^τ + σ ζ (n,)."""
    return g(nut) @ v + prm.noise * zeta


def _dense_task(W, B, key, spec: Spec, prm: Params) -> Task:
    """Draw a task for the body W (K, N): its samples, labels and task overlaps."""
    N = spec.N
    d = _draw(key, spec, prm)
    sq = math.sqrt(N)
    Q, R, T = W @ W.T / N, W @ B.T / N, B @ B.T / N
    lam, nu0 = _inner(d.X, W) / sq, _inner(d.X, B) / sq
    xs, Bt = None, (B if not spec.spread else None)
    if spec.explicit_xi:
        xs = XiStats(_inner(W, d.Xi) / N, _inner(B, d.Xi) / N, _inner(d.X, d.Xi) / N,
                     _inner(d.Xi, d.Xi) / N)
        Bt = jnp.sqrt(1.0 - prm.spread**2) * B + prm.spread * d.Xi
    elif spec.spread:
        xs = _implicit_xi(d.kxi, Q, R, T, lam, nu0, _inner(d.X, d.X) / N, spec)
    nut, Rt, Tt, _ = _teacher_side(nu0, R, T, xs, spec, prm)
    return Task(d.v, d.X, _labels(nut, d.v, d.zeta, prm), Rt, Tt, Bt)


def _dense_increment(W, a, task: Task, spec: Spec, prm: Params):
    """(ΔW (K, N), Δa (K,)) of one step on a given task, W as a dense array."""
    lam = _inner(task.X, W) / math.sqrt(spec.N)
    Q = W @ W.T / spec.N
    A, E, F, da = _coefficients(lam, Q, task.Rt, task.Tt, task.y, task.v, a, spec, prm)
    dW = A @ task.X / math.sqrt(spec.N)
    if E is not None:
        dW = dW + E @ W + F @ task.Bt
    return dW, da


def _increment(W, a, B, key, prm: Params, spec: Spec):
    """(ΔW (K, N), Δa (K,)) of one meta-training step from (W, a); see the module docstring."""
    return _dense_increment(W, a, _dense_task(W, B, key, spec, prm), spec, prm)


@partial(jax.jit, static_argnames="spec")
def _step(W, a, B, key, prm: Params, spec: Spec):
    dW, da = _increment(W, a, B, key, prm, spec)
    return W + dW, a + da


def _cast(cfg: Config, *arrays):
    return tuple(jnp.asarray(x, dtype=jnp.dtype(cfg.dtype)) for x in arrays)


def sample_task(cfg: Config, W, B, key) -> Task:
    """The task and samples that :func:`meta_step` draws with this key (for tests)."""
    W, B = _cast(cfg, W, B)
    return jax.jit(_dense_task, static_argnums=3)(W, B, key, spec_of(cfg), params_of(cfg))


def task_increment(cfg: Config, W, a, task: Task):
    """(ΔW (K, N), Δa (K,)) of one step on a given task (for tests; see :func:`meta_step`)."""
    W, a = _cast(cfg, W, a)
    return jax.jit(_dense_increment, static_argnums=3)(W, a, task, spec_of(cfg),
                                                       params_of(cfg))


def meta_step(W, a, B, key, cfg: Config):
    """One online meta-training step (pure): (W (K, N), a (K,)) → (W′, a′).

    ``B`` (M, N) is the meta-teacher's first layer, ``key`` a JAX PRNG key for the task and
    its samples. Arrays are cast to ``cfg.dtype``.
    """
    W, a, B = _cast(cfg, W, a, B)
    return _step(W, a, B, key, params_of(cfg), spec_of(cfg))


@partial(jax.jit, static_argnames=("spec", "batch"))
def _increments(W, a, B, key, start, prm, spec, batch):
    """N ΔQ, N ΔR, N Δa of the ``batch`` single steps with sample indices start, start + 1, …
    (step i uses the key ``fold_in(key, i)``), vmapped. ``start`` is traced: every chunk of a
    long estimate runs the same compiled program."""
    N = spec.N

    def one(i):
        dW, da = _increment(W, a, B, jax.random.fold_in(key, i), prm, spec)
        return {"Q": W @ dW.T + dW @ W.T + dW @ dW.T,          # N ΔQ
                "R": dW @ B.T,                                  # N ΔR
                "a": N * da}                                    # N Δa
    return jax.vmap(one)(start + jnp.arange(batch))


def step_increments(cfg: Config, W, B, a, key, n_samples: int) -> dict[str, np.ndarray]:
    """N·ΔQ (n, K, K), N·ΔR (n, K, M), N·Δa (n, K) of n_samples independent single steps.

    Every step starts from the same state (W (K, N), a (K,)) with its own task and samples
    (key folded with the sample index); steps are vmapped in chunks that bound the memory,
    all chunks one compiled program (one compilation per configuration's structure, whatever
    n_samples, once n_samples fills a chunk). Their mean estimates the drift dQ/dα, dR/dα,
    da/dα of the theory.
    """
    W, a, B = _cast(cfg, W, a, B)
    spec, prm = spec_of(cfg), params_of(cfg)
    per_step = (3 * cfg.K + (cfg.P or 0) + cfg.query_batch + 2 * cfg.M) * cfg.N
    batch = _batch(int(n_samples), per_step)
    chunks = [_increments(W, a, B, key, jnp.asarray(start), prm, spec, batch)
              for start in range(0, int(n_samples), batch)]
    return {k: np.concatenate([np.asarray(c[k]) for c in chunks])[:n_samples]
            for k in chunks[0]}


# ---------------------------------------------------------------------------------------
# The compiled training loop: W kept as W = Λ Y + H B, Q and R updated in closed form
# ---------------------------------------------------------------------------------------
class LoopState(NamedTuple):
    """State of one seed inside :func:`_advance`.

    Y (K, N): the body is W = Λ Y + H B with Λ (K, K) (and its inverse Linv),
    H (K, M), so that the second-order terms E W + F B of ΔW cost O(K²) instead of O(K² N);
    a (K,); Q, R: the overlaps of W, updated exactly from the step's coefficients
    (``support = "inf"``, which needs them every step); bad: first step met with a non-finite
    state (−1 while none).
    """

    Y: jax.Array
    Lam: jax.Array
    Linv: jax.Array
    H: jax.Array
    a: jax.Array
    Q: jax.Array
    R: jax.Array
    bad: jax.Array


def _loop_start(W, a, B, bad, spec: Spec) -> LoopState:
    K, N = spec.K, spec.N
    eye = jnp.eye(K, dtype=W.dtype)
    return LoopState(W, eye, eye, jnp.zeros((K, spec.M), W.dtype), a,
                     W @ W.T / N, W @ B.T / N, bad)


def _loop_body(st: LoopState, d: Draw, t, B, T, spec: Spec, prm: Params) -> LoopState:
    """Step t on the factorised state with the draws d (same law and, to rounding, same
    numbers as :func:`meta_step` with the key that drew d)."""
    K, M, N = spec.K, spec.M, spec.N
    sq = math.sqrt(N)
    Z = d.X if d.Xi is None else jnp.concatenate([d.X, d.Xi])
    n = d.X.shape[0]
    ZV = jnp.concatenate([_inner(Z, st.Y), _inner(Z, B)], axis=1)  # (rows, K + M)
    nu0 = ZV[:n, K:] / sq
    lam = ZV[:n, :K] / sq @ st.Lam.T + nu0 @ st.H.T
    need_gram = spec.spread or spec.P is None
    ZZ = _inner(Z, Z) / N if need_gram else None
    xs = None
    if spec.explicit_xi:
        BXi = ZV[n:, K:].T / N
        xs = XiStats(st.Lam @ (ZV[n:, :K].T / N) + st.H @ BXi, BXi, ZZ[:n, n:], ZZ[n:, n:])
    elif spec.spread:
        xs = _implicit_xi(d.kxi, st.Q, st.R, T, lam, nu0, ZZ[:n, :n], spec)
    nut, Rt, Tt, BtB = _teacher_side(nu0, st.R, T, xs, spec, prm)
    y = _labels(nut, d.v, d.zeta, prm)
    A, E, F, da = _coefficients(lam, st.Q, Rt, Tt, y, d.v, st.a, spec, prm)
    Q, R = st.Q, st.R
    Lam, Linv, H = st.Lam, st.Linv, st.H
    coef = A / sq                                           # ΔW = coef X + E W + F B^τ
    if spec.P is None:
        XX = ZZ[:n, :n]
        E_ = jnp.zeros((K, K), Q.dtype) if E is None else E
        F_ = jnp.zeros((K, M), Q.dtype) if F is None else F
        WdW = lam.T @ A.T / N + Q @ E_.T + Rt @ F_.T       # W ΔWᵀ/N
        AX = A @ (lam @ E_.T + nut @ F_.T) / N
        dWdW = (A @ XX @ A.T / N + AX + AX.T + E_ @ Q @ E_.T
                + E_ @ Rt @ F_.T + F_ @ Rt.T @ E_.T + F_ @ Tt @ F_.T)   # ΔW ΔWᵀ/N
        Q = Q + WdW + WdW.T + dWdW
        R = R + A @ nu0 / N + E_ @ R + F_ @ BtB
        if E is not None:
            c = jnp.sqrt(1.0 - prm.spread**2)
            IE = jnp.eye(K, dtype=Q.dtype) + E
            Lam = IE @ Lam
            Linv = jnp.linalg.inv(Lam)
            H = IE @ H + c * F
            coef = Linv @ coef
            if spec.explicit_xi:
                coef = jnp.concatenate([coef, prm.spread * Linv @ F], axis=1)
    # rank-1 update as a broadcast product: XLA's CPU dot is slow for an outer product
    dY = coef[:, 0, None] * Z[0] if Z.shape[0] == 1 else coef @ Z
    Y = st.Y + dY
    a = st.a + da
    ok = jnp.isfinite(jnp.sum(lam) + jnp.sum(a) + jnp.sum(Q))
    bad = jnp.where((st.bad < 0) & ~ok, t, st.bad)
    return LoopState(Y, Lam, Linv, H, a, Q, R, bad)


def _loop_end(st: LoopState, B):
    """The dense body W = Λ Y + H B (K, N) of a loop state."""
    return st.Lam @ st.Y + st.H @ B


@partial(persistent_jit, static_argnames="spec")
def _advance(W, a, bad, B, keys, t0, t1, prm: Params, spec: Spec):
    """Steps t0 ≤ t < t1 for every seed (leading axis; step t draws with
    :func:`step_key` (key, t)).

    The steps run block by block (:func:`_block_length`): each block's random numbers are drawn
    in one call, then its steps run one by one; blocks cut by t0 or t1 are drawn whole and
    used in part, so a step's numbers do not depend on where a run is cut.
    ``bad`` holds each seed's first step met with a non-finite state (−1 while none).
    """
    T = jnp.einsum("smn,sln->sml", B, B) / spec.N
    L = _block_length(spec)
    step = jax.vmap(lambda st, d, t, B, T: _loop_body(st, d, t, B, T, spec, prm),
                    (0, 0, None, 0, 0))

    def block(j, st):
        draws = jax.vmap(lambda k: _draw_block(k, j, spec, prm))(keys)   # (seeds, L, …)

        def body(t, st):
            d = jax.tree.map(lambda x: x[:, t - j * L], draws)
            return step(st, d, t, B, T)
        lo, hi = jnp.maximum(t0, j * L), jnp.minimum(t1, (j + 1) * L)
        return jax.lax.fori_loop(lo, hi, body, st)

    st = jax.vmap(lambda W, a, B, bad: _loop_start(W, a, B, bad, spec))(W, a, B, bad)
    st = jax.lax.fori_loop(t0 // L, (t1 - 1) // L + 1, block, st)
    W = jax.vmap(_loop_end)(st, B)
    ok = jnp.isfinite(jnp.sum(W, axis=(1, 2)))
    return W, st.a, jnp.where((st.bad < 0) & ~ok, t1 - 1, st.bad)


# ---------------------------------------------------------------------------------------
# Meta-test error by Monte Carlo
# ---------------------------------------------------------------------------------------
def _task_error_fields(key, a, Q, R, T, G_WB, spec: Spec, prm: Params, n_test: int):
    """Test error of one fresh task after adaptation, from fields drawn in their exact law.

    For Gaussian inputs the fields (λ, ν^τ) = (W x, B^τ x)/√N of a fresh sample are exactly
    N(0, Σ^τ), Σ^τ = [[Q, R^τ], [R^τᵀ, T^τ]] with the microscopic overlaps of W and B^τ, so
    the sample need not be built in N dimensions; Ξ^τ enters through its exact law
    (:func:`xi_overlaps` on the Gram matrix G_WB of [W; B]). Returns ½ mean_j (f(x_j) − y_j)²
    over n_test test samples, after adaptation on P support samples or the population loss.
    """
    K, M = spec.K, spec.M
    dt = jnp.dtype(spec.dtype)
    kv, kxi, kf, kz = jax.random.split(key, 4)
    v = prm.v_bar + prm.v_std * jax.random.normal(kv, (M,), dt)
    Rt, Tt = R, T
    if spec.spread:
        c, s = jnp.sqrt(1.0 - prm.spread**2), prm.spread
        VXi, XiXi = xi_overlaps(kxi, G_WB, spec.N, M)
        Rt = c * R + s * VXi[:K]
        Tt = c**2 * T + c * s * (VXi[K:] + VXi[K:].T) + s**2 * XiXi
    Sigma = jnp.block([[Q, Rt], [Rt.T, Tt]])
    ev, U = jnp.linalg.eigh(Sigma)
    root = U * jnp.sqrt(jnp.clip(ev, 0.0, None))            # Σ = root rootᵀ
    n = (spec.P or 0) + n_test
    fields = jax.random.normal(kf, (n, K + M), dt) @ root.T
    lam = fields[:, :K]
    y = _labels(fields[:, K:], v, jax.random.normal(kz, (n,), dt), prm)
    a_prime = _adapt(lam, Q, Rt, Tt, y, v, a, spec, prm)
    return _query_loss(lam[n - n_test:], a_prime, y[n - n_test:])


def _task_error_inputs(key, W, B, a, spec: Spec, prm: Params, n_test: int):
    """Test error of one fresh task after adaptation, with N-dimensional inputs (literal).

    The reference for :func:`_task_error_fields`: B^τ, the support and the test samples are
    built explicitly in ℝᴺ.
    """
    M, N = spec.M, spec.N
    dt = jnp.dtype(spec.dtype)
    kv, kx, kz = jax.random.split(key, 3)
    v = prm.v_bar + prm.v_std * jax.random.normal(kv, (M,), dt)
    n = (spec.P or 0) + n_test
    Z = gaussian.normal(kx, (n + M, N), dt)
    X = Z[:n]
    Bt = jnp.sqrt(1.0 - prm.spread**2) * B + prm.spread * Z[n:]
    y = _labels(_inner(X, Bt) / math.sqrt(N), v, jax.random.normal(kz, (n,), dt), prm)
    lam = _inner(X, W) / math.sqrt(N)
    a_prime = _adapt(lam, W @ W.T / N, W @ Bt.T / N, Bt @ Bt.T / N, y, v, a, spec, prm)
    return _query_loss(lam[n - n_test:], a_prime, y[n - n_test:])


@partial(jax.jit, static_argnames=("spec", "n_tasks", "n_test", "method"))
def _eg_mc(W, a, B, key, prm, spec, n_tasks, n_test, method):
    """(mean, sem) over n_tasks fresh tasks of the post-adaptation test error."""
    keys = jax.random.split(key, n_tasks)
    if method == "fields":
        N = spec.N
        V = jnp.concatenate([W, B])
        G = V @ V.T / N
        Q, R, T = G[:spec.K, :spec.K], G[:spec.K, spec.K:], G[spec.K:, spec.K:]
        per_task = ((spec.P or 0) + n_test) * (spec.K + spec.M) * 4
        batch = _batch(n_tasks, per_task)
        errs = jax.lax.map(lambda k: _task_error_fields(k, a, Q, R, T, G, spec, prm, n_test),
                           keys, batch_size=batch)
    else:
        per_task = ((spec.P or 0) + n_test + 2 * spec.M) * spec.N
        batch = _batch(n_tasks, per_task)
        errs = jax.lax.map(lambda k: _task_error_inputs(k, W, B, a, spec, prm, n_test), keys,
                           batch_size=batch)
    return jnp.mean(errs), jnp.std(errs, ddof=1) / math.sqrt(n_tasks)


def meta_test_error_mc(cfg: Config, W, B, a, key, n_tasks: int = EG_TASKS,
                       n_test: int = EG_TEST, method: str = "fields") -> tuple[float, float]:
    """Monte-Carlo meta-test error of the state (W (K, N), a (K,)) and its standard error.

    For each of n_tasks fresh tasks: adapt the head from a as in training (S steps of rate
    η_in on the population gradient C a − D^τ v^τ for ``support = "inf"``, on P fresh support
    samples otherwise), then average ½(f(x) − y)² over n_test fresh noisy test samples.
    Returns the mean over tasks and its standard error (std over tasks/√n_tasks).

    ``method = "fields"`` draws each sample's local fields (W x, B^τ x)/√N from their exact
    Gaussian law given the microscopic overlaps (cost independent of N);
    ``method = "inputs"`` builds every input x ∈ ℝᴺ and B^τ (the literal definition).
    """
    if method not in ("fields", "inputs"):
        raise ValueError(f"method must be 'fields' or 'inputs', got {method!r}")
    W, a, B = _cast(cfg, W, a, B)
    if n_tasks < 2:
        raise ValueError("n_tasks must be at least 2 (the standard error needs two tasks)")
    mean, sem = _eg_mc(W, a, B, key, params_of(cfg), spec_of(cfg), int(n_tasks), int(n_test),
                       method)
    return float(mean), float(sem)


# ---------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------
#: Ways to record the meta-test error of the microscopic state (:func:`simulate`).
EG_METHODS = ("mc", "closed_form")


def _closed_form_error(Q, R, a, T, prm: Params, spec: Spec):
    """The meta-test error of one state from its overlaps, exactly (float64).

    With the population inner loop and σ_B = 0 the adapted head and the error of a task
    depend on (W, B) only through Q, R, T, and the fields of a fresh sample are exactly
    Gaussian with covariance [[Q, R], [Rᵀ, T]] at any N: the error averaged over tasks and
    samples is :func:`metarep.metaloss.meta_test_error` of the measured overlaps."""
    f64 = lambda x: jnp.asarray(x, jnp.float64)  # noqa: E731
    dist = TaskDist(f64(T), f64(prm.v_bar), f64(prm.v_std), jnp.zeros((), jnp.float64),
                    f64(prm.noise))
    return meta_test_error(f64(Q), f64(R), f64(a), dist, f64(prm.eta_in), spec.S)


@partial(persistent_jit, static_argnames=("spec", "n_tasks", "n_test", "eg_method"))
def _record(W, a, B, eval_keys, t, prm, spec, n_tasks, n_test, eg_method="mc"):
    """Order parameters and meta-test error of every seed at step t: (Q, R, a, eg, eg_sem).

    eg_method "mc": Monte-Carlo estimate with the keys fold_in(eval, t) and its standard
    error (NaN if n_tasks = 0); "closed_form": :func:`_closed_form_error` of the state's
    overlaps (standard error 0)."""
    N = spec.N
    keys = jax.vmap(jax.random.fold_in, (0, None))(eval_keys, t)
    Q = jnp.einsum("skn,sln->skl", W, W) / N
    R = jnp.einsum("skn,smn->skm", W, B) / N
    if n_tasks == 0:
        nan = jnp.full(W.shape[:1], jnp.nan, W.dtype)
        return Q, R, a, nan, nan
    if eg_method == "closed_form":
        T = jnp.einsum("smn,sln->sml", B, B) / N
        eg = jax.vmap(lambda *x: _closed_form_error(*x, prm, spec))(Q, R, a, T)
        return Q, R, a, eg.astype(W.dtype), jnp.zeros_like(eg, W.dtype)
    eg, sem = jax.vmap(lambda W, a, B, k: _eg_mc(W, a, B, k, prm, spec, n_tasks, n_test,
                                                 "fields"))(W, a, B, keys)
    return Q, R, a, eg, sem


def check_eg_method(cfg: Config, eg_method: str) -> None:
    """Raise ValueError for an unknown ``eg_method`` (:data:`EG_METHODS`), ConfigError when
    ``"closed_form"`` does not apply to ``cfg`` (a finite support or σ_B > 0)."""
    if eg_method not in EG_METHODS:
        raise ValueError(f"eg_method must be one of {EG_METHODS}, got {eg_method!r}")
    if eg_method == "closed_form" and (cfg.P is not None or cfg.teacher_spread > 0):
        raise ConfigError(
            "the closed-form meta-test error needs support = \"inf\" and teacher_spread = 0 "
            f"(got support = {cfg.support!r}, teacher_spread = {cfg.teacher_spread:g}); "
            "use the Monte-Carlo estimate (eg_method \"mc\")")


def _divergence(cfg: Config, W, a, B, t: int) -> DivergenceError:
    """The error for a run that became non-finite at step t, naming the likely cause
    (:func:`metarep.divergence.explain`) measured at the last finite state (W (K, N), a (K,)),
    the state just before step t (B (M, N): the run's teacher)."""
    W, a, B = (np.asarray(x, dtype=float) for x in (W, a, B))
    Q, R, T = W @ W.T / cfg.N, W @ B.T / cfg.N, B @ B.T / cfg.N
    where = f"the simulation diverged at α ≈ {t / cfg.N:.4g} (step {t}): W or a became non-finite"
    return DivergenceError(f"{where}. Likely cause: {explain(cfg, (Q, R, a), T)}.")


def run_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """(train, eval) keys of a seed's run stream ``split_keys(seed).run``: training step t
    uses :func:`step_key` (train, t), the record at step t uses ``fold_in(eval, t)``."""
    train, evaluation = _split2(split_keys(seed).run)
    return train, evaluation


@persistent_jit
def _split2(key):
    return jax.random.split(key)


def advance(cfg: Config, W, a, B, train_keys, t0: int, t1: int):
    """Training steps t0 ≤ t < t1 of several seeds in one compiled loop: (W, a) → (W′, a′).

    W (s, K, N), a (s, K), B (s, M, N), train_keys (s, …): each seed's training stream
    (:func:`run_keys`); step t draws with :func:`step_key`, so the result does not depend on
    how a run is cut into calls. Returns jax arrays in ``cfg.dtype``.

    Raises :class:`~metarep.errors.DivergenceError` naming the likely cause if W or a of
    some seed becomes non-finite.
    """
    W, a, B = _cast(cfg, W, a, B)
    bad = np.full(W.shape[:1], -1, dtype=np.int64)
    prm, spec = params_of(cfg), spec_of(cfg)
    W1, a1, bad = _advance(W, a, bad, B, train_keys, int(t0), int(t1), prm, spec=spec)
    bad = np.asarray(bad)
    if bad.max() >= 0:
        s = int(np.argmax(bad >= 0))
        t = int(bad[s])
        # the last finite state: the steps of the seeds up to (not including) step t
        Wl, al, _ = _advance(W, a, np.full(W.shape[:1], -1, dtype=np.int64), B, train_keys,
                             int(t0), t, prm, spec=spec) if t > t0 else (W, a, None)
        raise _divergence(cfg, Wl[s], al[s], B[s], t)
    return W1, a1


def _seed_list(cfg: Config, seeds) -> list[int]:
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return list(range(cfg.seed, cfg.seed + int(seeds)))
    out = [int(s) for s in seeds]
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise ValueError(f"seeds must be distinct non-negative integers, got {seeds!r}")
    return out


def record_steps(cfg: Config, alphas=None) -> np.ndarray:
    """Steps at which ``simulate`` records: round(α N), sorted, without repeats."""
    alphas = cfg.record_alphas if alphas is None else np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)) \
            or alphas.min() < 0:
        raise ValueError("alphas must be a non-empty 1-d sequence of finite α >= 0")
    return np.unique(np.rint(alphas * cfg.N).astype(np.int64))


@contextmanager
def _partial_on_interrupt(records: list, recorded, planned: int):
    """Keep the completed ``records`` when a run stops early: a KeyboardInterrupt becomes
    :class:`~metarep.errors.Interrupted` carrying ``recorded()`` (re-raised as is if there is
    no record yet); a :class:`~metarep.errors.DivergenceError` gets the attributes
    ``partial`` (``recorded()``, or None) and ``planned``."""
    try:
        yield
    except KeyboardInterrupt as stop:
        if not records:
            raise
        raise Interrupted(recorded(), planned) from stop
    except DivergenceError as err:
        err.partial, err.planned = (recorded() if records else None), planned
        raise


def simulate(cfg: Config, seeds: int | Sequence[int] = 1, alphas=None, progress: bool = True,
             eg_tasks: int = EG_TASKS, eg_test: int = EG_TEST,
             eg_method: str = "mc", device=None) -> Trajectory:
    """Simulate the microscopic process for several seeds and record it.

    seeds: n (seeds cfg.seed … cfg.seed + n − 1) or a sequence of seeds; each seed has its own
    meta-teacher and initial state (:func:`metarep.initial.initial_weights`, the ODE's
    numbers) and its own stream of tasks (``split_keys(seed).run``). alphas: record times
    (default ``cfg.record_alphas``), snapped to whole steps (α = round(α N)/N, repeats
    dropped). Between records the steps run inside one compiled loop (vmapped over seeds);
    the progress bar advances per chunk of at most N steps.

    Recorded per seed and time: Q (K, K), R (K, M), a (K,), ``eg`` = meta-test error and its
    standard error as the observable ``eg_sem``. ``eg_method = "mc"`` (default): the
    Monte-Carlo estimate :func:`meta_test_error_mc` (``eg_tasks`` tasks × ``eg_test`` test
    samples), independent of the theory's formulas; ``"closed_form"`` (population inner loop
    and σ_B = 0 only, else :class:`~metarep.errors.ConfigError`): the exact value for the
    recorded state, :func:`metarep.metaloss.meta_test_error` of its measured Q, R, T, a
    (``eg_sem`` = 0), much cheaper when records are many. ``eg_tasks = 0`` skips the meta-test
    error (NaN). The Trajectory's T is each seed's B Bᵀ/N, shape (seeds, M, M) (I, (M, M),
    for the orthogonal teacher). ``device``: the JAX device to run on (default: JAX's default
    device); runs on several devices give the same numbers as on one.

    Raises :class:`~metarep.errors.DivergenceError` if W or a becomes non-finite (its
    ``partial`` attribute holds the records completed before, or None). On
    Ctrl-C (KeyboardInterrupt) after at least one record, raises
    :class:`~metarep.errors.Interrupted` (a KeyboardInterrupt) carrying the records
    completed so far.
    """
    from tqdm import tqdm  # plain text bar: tqdm.auto warns in kernels without ipywidgets

    if eg_tasks == 1 or eg_tasks < 0 or eg_test < 1:
        raise ValueError("eg_tasks must be 0 (no estimate) or >= 2, and eg_test >= 1")
    check_eg_method(cfg, eg_method)
    seed_list = _seed_list(cfg, seeds)
    steps = record_steps(cfg, alphas)
    spec, prm = spec_of(cfg), params_of(cfg)
    init = [initial_weights(cfg.replace(seed=s)) for s in seed_list]
    B, W, a = (jnp.asarray(np.stack(x), dtype=jnp.dtype(cfg.dtype)) for x in zip(*init))
    T = (np.eye(cfg.M) if cfg.teacher == "orthogonal"
         else np.stack([b @ b.T / cfg.N for b, _, _ in init]))
    train_keys, eval_keys = (np.stack(k) for k in zip(*(run_keys(s) for s in seed_list)))
    if device is not None:
        B, W, a, train_keys, eval_keys = jax.device_put((B, W, a, train_keys, eval_keys),
                                                        device)
    records = []
    t = 0

    def recorded() -> Trajectory:
        Q, R, A, eg, sem = (np.stack([np.asarray(r[i], dtype=float) for r in records], axis=1)
                            for i in range(5))
        return Trajectory(alpha=steps[:len(records)] / cfg.N, Q=Q, R=R, a=A, eg=eg,
                          observables={"eg_sem": sem}, seeds=np.array(seed_list), config=cfg,
                          T=T)

    with tqdm(total=int(steps[-1]), disable=not progress, desc="simulate", unit="step") as bar, \
            _partial_on_interrupt(records, recorded, len(steps)):
        for target in steps:
            while t < target:
                t_next = int(min(target, t + cfg.N))
                W, a = advance(cfg, W, a, B, train_keys, t, t_next)
                bar.update(t_next - t)
                t = t_next
            records.append(_record(W, a, B, eval_keys, int(target), prm, spec=spec,
                                   n_tasks=int(eg_tasks), n_test=int(eg_test),
                                   eg_method=eg_method))
    return recorded()


def simulate_sizes(cfg: Config, sizes: Sequence[int], seeds, alphas=None,
                   **kwargs) -> dict[int, Trajectory]:
    """:func:`simulate` of ``cfg`` at each N in ``sizes`` (seeds vmapped; one compilation per
    N): {N: Trajectory}. ``kwargs`` are passed on (e.g. ``progress``, ``eg_tasks``)."""
    kwargs.setdefault("progress", False)
    return {int(N): simulate(cfg.replace(N=int(N)), seeds=seeds, alphas=alphas, **kwargs)
            for N in sizes}


__all__ = ["simulate", "simulate_sizes", "advance", "meta_step", "sample_task", "task_increment", "Task", "step_increments", "meta_test_error_mc", "xi_overlaps",
           "record_steps", "run_keys", "step_key", "Spec", "Params", "spec_of", "params_of", "EG_TASKS", "EG_TEST",
           "EG_METHODS", "check_eg_method"]
