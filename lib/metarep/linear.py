r"""Linear analysis of the ODEs: state vectors, the Jacobian, the plateau fixed point, its modes.

Coordinates of a state vector x (:func:`state_vector`): (Q_ij for i ≤ j, R_km row-major, a_k if
the head is learned). Q is symmetric, so only its upper triangle is a coordinate.

**The teacher-symmetric subspace.** When T ∝ I and all mean readouts v̄_m are equal, swapping
two meta-teacher units is a symmetry of the task distribution, so the ODE commutes with it and
the subspace R = r 1ᵀ (every student unit overlaps equally with every teacher unit; Q and a
free) is invariant. The plateau is a fixed point x* in that subspace
(:func:`plateau_fixed_point`). The Jacobian there splits into a block inside the subspace
(modes even under the swap) and one across it (odd modes, :func:`modes`); the escape from the
plateau is the growth of the leading odd mode, at the rate λ = its eigenvalue.

**The fully symmetric plateau.** If moreover every student unit is equivalent (Q_kk = q,
Q_kl = c for k ≠ l, R = r 11ᵀ, a = a 1), the state is also invariant under permutations of
the student units, and so is its trajectory (a run started there, e.g. from the explicit
initial state R₀ = r₀ 11ᵀ + δ(I − 11ᵀ/M) of a chapter, keeps Q_kk, a_k equal). Its fixed
point (:func:`symmetric_plateau`) is found by pseudo-transient continuation in the
coordinates (q, c, r, a); for K = M the odd direction that turns each student unit towards
a different teacher unit, δR ∝ I − 11ᵀ/M, is an eigenvector of the Jacobian there, with the
eigenvalue :func:`specialization_rate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from metarep import drift
from metarep.drift import Hyper, State


# -- state vectors ----------------------------------------------------------------------------

def state_vector(Q, R, a, learn_head: bool = True):
    """x = (Q_ij for i ≤ j, R_km row-major, a_k if ``learn_head``) of states Q (..., K, K),
    R (..., K, M), a (..., K): shape (..., n) (a jnp array; leading axes broadcast)."""
    Q, R, a = (jnp.asarray(v) for v in (Q, R, a))
    iu = np.triu_indices(Q.shape[-1])
    parts = [Q[..., iu[0], iu[1]], R.reshape(*R.shape[:-2], -1)] + ([a] if learn_head else [])
    return jnp.concatenate(parts, axis=-1)


def coordinate_names(K: int, M: int, learn_head: bool = True) -> tuple[str, ...]:
    """Names of the coordinates of :func:`state_vector`: ``Q_i_j`` (i ≤ j), ``R_k_m``,
    ``a_k`` (the column names of a trajectory's table)."""
    return (tuple(f"Q_{i}_{j}" for i in range(K) for j in range(i, K))
            + tuple(f"R_{k}_{m}" for k in range(K) for m in range(M))
            + (tuple(f"a_{k}" for k in range(K)) if learn_head else ()))


def state_from_vector(x, K: int, M: int, a_fixed, learn_head: bool) -> State:
    """Inverse of :func:`state_vector`: State(Q (K, K) symmetric, R (K, M), a (K,)); the head
    is ``a_fixed`` when it is not learned."""
    x = jnp.asarray(x)
    iu = jnp.triu_indices(K)
    nq = len(iu[0])
    U = jnp.zeros((K, K), dtype=x.dtype).at[iu].set(x[:nq])
    Q = U + U.T - jnp.diag(jnp.diagonal(U))
    R = x[nq:nq + K * M].reshape(K, M)
    a = x[nq + K * M:] if learn_head else jnp.asarray(a_fixed, dtype=x.dtype)
    return State(Q, R, a)


def symmetry_breaking(R):
    """‖R − R̄ 1ᵀ‖_F, R̄ the row means: distance of R (..., K, M) from the teacher-symmetric
    subspace (0 on the plateau's subspace, O(1) once specialized)."""
    R = np.asarray(R, dtype=float)
    return np.sqrt(((R - R.mean(axis=-1, keepdims=True)) ** 2).sum(axis=(-2, -1)))


# -- the Jacobian -----------------------------------------------------------------------------

@partial(jax.jit, static_argnames=("steps", "first_order", "learn_head"))
def _jacobian(Q, R, a, hp, steps, first_order, learn_head):
    K, M = R.shape

    def f(x):
        s = state_from_vector(x, K, M, a, learn_head)
        return state_vector(*drift.vector_field(s, hp, steps, first_order), learn_head)

    x = state_vector(Q, R, a, learn_head)
    return jax.jacfwd(f)(x), x


def jacobian(state, hp: Hyper, steps: int, first_order: bool, learn_head: bool):
    """Jacobian of the ODE right-hand side at ``state`` = (Q, R, a), by forward-mode autodiff
    in the coordinates of :func:`state_vector`. Returns (J (n, n), x (n,)) as NumPy arrays."""
    Q, R, a = (jnp.asarray(s, dtype=jnp.float64) for s in state)
    J, x = _jacobian(Q, R, a, hp, steps, first_order, learn_head)
    return np.asarray(J), np.asarray(x)


def leading_eigenvalues(J, n: int = 4) -> np.ndarray:
    """The ``n`` eigenvalues of J with the largest real parts, sorted decreasingly."""
    ev = np.linalg.eigvals(np.asarray(J))
    return ev[np.argsort(-ev.real)][:n]


# -- the plateau fixed point ------------------------------------------------------------------

@dataclass(frozen=True)
class FixedPoint:
    """A fixed point of the ODE: state (Q, R, a), its residual max |rhs|, Jacobian J and its
    eigenvalues sorted by decreasing real part; ``escape_rate`` = largest real part (> 0: the
    fixed point is unstable and perturbations grow like exp(rate·α))."""

    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    residual: float
    J: np.ndarray
    eigenvalues: np.ndarray
    escape_rate: float


def check_teacher_symmetric(T, v_bar) -> None:
    """Raise ValueError unless the teacher-symmetric subspace is invariant (T ∝ I, equal v̄_m)."""
    T, vb = np.asarray(T, dtype=float), np.asarray(v_bar, dtype=float)
    if not (np.allclose(T, T[0, 0] * np.eye(len(T))) and np.allclose(vb, vb[0])):
        raise ValueError("the teacher-symmetric subspace is invariant only for T ∝ I and "
                         "equal v_mean entries")


@partial(jax.jit, static_argnames=("K", "M", "steps", "first_order", "learn_head"))
def _reduced(y, a_fixed, hp, K, M, steps, first_order, learn_head):
    """Vector field restricted to R = r 1ᵀ, in coordinates y = (Q_ij i ≤ j, r, a), and its
    Jacobian in y (one compiled function for Newton's method)."""
    iu = jnp.triu_indices(K)
    nq = len(iu[0])

    def field(y):
        U = jnp.zeros((K, K)).at[iu].set(y[:nq])
        Q = U + U.T - jnp.diag(jnp.diagonal(U))
        R = jnp.outer(y[nq:nq + K], jnp.ones(M))
        a = y[nq + K:] if learn_head else a_fixed
        d = drift.vector_field(State(Q, R, a), hp, steps, first_order)
        parts = [d.Q[iu], d.R.mean(axis=1)] + ([d.a] if learn_head else [])
        return jnp.concatenate(parts)

    return field(y), jax.jacfwd(field)(y)


def plateau_fixed_point(cfg, guess, T=None, tol: float = 1e-11,
                        max_iter: int = 40) -> FixedPoint:
    """The plateau: the fixed point of the ODE in the teacher-symmetric subspace, by damped
    Newton iterations inside the subspace.

    ``guess`` = (Q, R, a), e.g. a plateau state of a trajectory; its R is replaced by its row
    means (projected onto the subspace). The student units may differ (Q and a are free),
    which is what the plateau of a learned head looks like. When Newton's method needs a
    better start, integrate the ODE from the projected guess first (the subspace is invariant
    and the plateau attracting inside it). Returns a :class:`FixedPoint` with the full
    Jacobian. Raises ValueError if the subspace is not invariant or Newton's method fails.
    """
    T = np.eye(cfg.M) if T is None else np.asarray(T, dtype=float)
    check_teacher_symmetric(T, cfg.v_bar)
    K, M = cfg.K, cfg.M
    learn_head = cfg.eta_head > 0
    Q0, R0, a0 = (np.asarray(v, dtype=float) for v in guess)
    iu = np.triu_indices(K)
    y = jnp.asarray(np.concatenate([Q0[iu], R0.mean(axis=1)] + ([a0] if learn_head else [])))
    hp = drift.hyper(cfg, T)
    args = (jnp.asarray(a0), hp, K, M, cfg.inner_steps, cfg.first_order, learn_head)
    res, jac = _reduced(y, *args)
    for _ in range(max_iter):                     # damped Newton: halve the step until the
        norm = float(jnp.max(jnp.abs(res)))       # residual decreases
        if norm < tol:
            break
        step = jnp.linalg.solve(jac, res)
        for _ in range(30):
            y_new = y - step
            res_new, jac_new = _reduced(y_new, *args)
            new_norm = float(jnp.max(jnp.abs(res_new)))
            if np.isfinite(new_norm) and new_norm < norm:
                break
            step = step / 2
        y, res, jac = y_new, res_new, jac_new
    nq = len(iu[0])
    y = np.asarray(y)
    x = np.concatenate([y[:nq], np.repeat(y[nq:nq + K], M)] + ([y[nq + K:]] if learn_head
                                                                   else []))
    Q, R, a = (np.asarray(v) for v in state_from_vector(x, K, M, a0, learn_head))
    d = drift.rhs((Q, R, a), cfg, T)
    residual = float(max(np.abs(np.asarray(v)).max() for v in
                         ((d.Q, d.R, d.a) if learn_head else (d.Q, d.R))))
    if not np.isfinite(residual) or residual > 1e3 * tol:
        raise ValueError(f"Newton's method did not find a fixed point in the teacher-symmetric "
                         f"subspace (residual {residual:.3g}); start from a plateau state")
    J, _ = jacobian((Q, R, a), hp, cfg.inner_steps, cfg.first_order, learn_head)
    ev = leading_eigenvalues(J, n=J.shape[0])
    return FixedPoint(Q, R, a, residual, J, ev, float(ev[0].real))


# -- modes ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Modes:
    """Eigen-decomposition of the Jacobian at a state of the teacher-symmetric subspace, sorted
    by decreasing real part.

    eigenvalues (n,), vectors (n, n) (column i ↔ eigenvalue i, real parts, unit norm),
    odd (n,) bool: the mode is odd under swapping the teacher units (it leaves the
    teacher-symmetric subspace: only its R part is non-zero and R's rows sum to zero);
    ``rate``: the largest real part among odd modes (the escape rate λ); ``lead``: index of
    that mode.
    """

    eigenvalues: np.ndarray
    vectors: np.ndarray
    odd: np.ndarray
    rate: float
    lead: int


def modes(J, K: int, M: int, learn_head: bool) -> Modes:
    """Classify the eigenvectors of a Jacobian J (e.g. ``FixedPoint.J``) at a state of the
    teacher-symmetric subspace as even (inside the subspace) or odd (across it); see
    :class:`Modes`."""
    w, V = np.linalg.eig(np.asarray(J))
    order = np.argsort(-w.real)
    w, V = w[order], V[:, order]
    V = np.real(V)
    V = V / np.linalg.norm(V, axis=0, keepdims=True)
    odd = np.zeros(len(w), dtype=bool)
    for i in range(len(w)):
        _, R, _ = state_from_vector(V[:, i], K, M, np.zeros(K), learn_head)
        R = np.asarray(R)
        odd[i] = np.linalg.norm(R - R.mean(axis=1, keepdims=True)) > 0.99 * np.linalg.norm(V[:, i])
    if not odd.any():
        raise ValueError("no mode leaves the teacher-symmetric subspace")
    lead = int(np.flatnonzero(odd)[np.argmax(w.real[odd])])
    return Modes(w, V, odd, float(w[lead].real), lead)


# -- the odd block along a trajectory ---------------------------------------------------------

def teacher_symmetric_projection(R):
    """R (..., K, M) → R̄ 1ᵀ (R̄ the row means): the nearest state of the teacher-symmetric
    subspace (Q and a are left as they are)."""
    R = np.asarray(R, dtype=float)
    return np.broadcast_to(R.mean(axis=-1, keepdims=True), R.shape).copy()


def odd_basis(K: int, M: int, learn_head: bool = True) -> np.ndarray:
    """Orthonormal basis V (n, K(M − 1)) of the odd subspace in the coordinates of
    :func:`state_vector`: changes of R whose rows sum to zero, with Q and a unchanged.

    It is the orthogonal complement of the teacher-symmetric subspace's tangent space; at a
    state of that subspace the Jacobian maps each of the two into itself (it commutes with
    the teacher swaps), so J V = V (Vᵀ J V) there: Vᵀ J V is the **odd block**."""
    # Helmert basis of the zero-sum vectors of ℝᴹ: e_0 + … + e_{j−1} − j e_j, normalised
    H = np.zeros((M, M - 1))
    for j in range(1, M):
        H[:j, j - 1] = 1.0
        H[j, j - 1] = -float(j)
        H[:, j - 1] /= np.sqrt(j * (j + 1))
    nq = K * (K + 1) // 2
    V = np.zeros((nq + K * M + (K if learn_head else 0), K * (M - 1)))
    for k in range(K):
        V[nq + k * M:nq + (k + 1) * M, k * (M - 1):(k + 1) * (M - 1)] = H
    return V


#: States per compiled call of :func:`odd_block` (batches are padded to a multiple: one
#: compilation whatever the number of states).
ODD_CHUNK = 256


@partial(jax.jit, static_argnames=("steps", "first_order", "learn_head"))
def _odd_blocks(Q, R, a, hp, V, steps, first_order, learn_head):
    """Vᵀ J V at the teacher-symmetric projections of a batch of states (leading axis)."""
    def one(q, r, aa):
        K, M = r.shape

        def f(x):
            s = state_from_vector(x, K, M, aa, learn_head)
            return state_vector(*drift.vector_field(s, hp, steps, first_order), learn_head)

        r = jnp.broadcast_to(r.mean(axis=1, keepdims=True), r.shape)
        x = state_vector(q, r, aa, learn_head)
        JV = jax.vmap(lambda v: jax.jvp(f, (x,), (v,))[1], in_axes=1, out_axes=1)(V)
        return V.T @ JV

    return jax.vmap(one)(Q, R, a)


def odd_block(cfg, Q, R, a, T=None) -> np.ndarray:
    """The odd block Vᵀ J V (:func:`odd_basis`) of the Jacobian of the ODE at the
    teacher-symmetric projection (:func:`teacher_symmetric_projection`) of each state.

    Q (..., K, K), R (..., K, M), a (..., K) with any leading axes; returns
    (..., K(M − 1), K(M − 1)). At a state of the subspace its eigenvalues are those of the
    odd modes of :func:`modes`; along a plateau that is not yet the fixed point they are the
    frozen-time rates at which small asymmetries R − R̄ 1ᵀ grow. Needs T ∝ I and equal v̄_m
    (:func:`check_teacher_symmetric`).
    """
    T = np.eye(cfg.M) if T is None else np.asarray(T, dtype=float)
    check_teacher_symmetric(T, cfg.v_bar)
    learn_head = cfg.eta_head > 0
    Q, R, a = (np.asarray(v, dtype=float) for v in (Q, R, a))
    lead = R.shape[:-2]
    flat = [x.reshape(-1, *x.shape[len(lead):]) for x in (Q, R, a)]
    n = len(flat[0])
    pad = -n % ODD_CHUNK
    flat = [np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]) for x in flat]
    V = jnp.asarray(odd_basis(cfg.K, cfg.M, learn_head))
    hp = drift.hyper(cfg, T)
    out = [np.asarray(_odd_blocks(*(jnp.asarray(x[i:i + ODD_CHUNK]) for x in flat), hp, V,
                                  cfg.inner_steps, cfg.first_order, learn_head))
           for i in range(0, n + pad, ODD_CHUNK)]
    return np.concatenate(out)[:n].reshape(*lead, V.shape[1], V.shape[1])


def odd_rate(blocks) -> np.ndarray:
    """λ_odd: the largest real part of the eigenvalues of odd blocks (..., d, d)
    (:func:`odd_block`), shape (...). At the plateau fixed point it is the escape rate λ
    (``Modes.rate``); at the projection of a state on a slowly moving plateau it is the
    frozen-time rate at which small asymmetries grow there."""
    return np.linalg.eigvals(np.asarray(blocks)).real.max(axis=-1)


def odd_coordinates(R, K: int, M: int) -> np.ndarray:
    """The coordinates φ (..., K(M − 1)) of the odd part R − R̄ 1ᵀ of R (..., K, M) in
    :func:`odd_basis` (so |φ| = :func:`symmetry_breaking`)."""
    V = odd_basis(K, M, learn_head=False)[K * (K + 1) // 2:]
    R = np.asarray(R, dtype=float)
    return R.reshape(*R.shape[:-2], K * M) @ V


def odd_propagator(alpha, blocks) -> np.ndarray:
    r"""The propagator Φ(α) of the odd block's variational equation along recorded states.

    dφ/dα = B(α) φ, with B(α) the :func:`odd_block` at the teacher-symmetric projection of
    the state recorded at α (``blocks`` (..., n, d, d), records at ``alpha`` (n,)), and
    Φ(alpha[0]) = I. While a trajectory stays close to the teacher-symmetric subspace its
    projection follows the subspace's own dynamics up to second order in its odd part, and
    the odd part itself evolves as φ(α) ≈ Φ(α) φ(alpha[0]) (φ: :func:`odd_coordinates`), with
    relative corrections of second order in |φ| for M = 2 (the swap maps φ to −φ, so the
    odd part of the drift has no quadratic terms), of first order for M > 2.
    Φ advances from record to record by the exponential trapezoidal rule
    Φ_{i+1} = exp(½ h_i (B_i + B_{i+1})) Φ_i, of second order in the record spacing h_i.
    Returns (..., n, d, d).
    """
    from scipy.linalg import expm

    blocks = np.asarray(blocks, dtype=float)
    h = np.diff(np.asarray(alpha, dtype=float))[:, None, None]
    steps = expm(0.5 * h * (blocks[..., 1:, :, :] + blocks[..., :-1, :, :]))
    phi = [np.broadcast_to(np.eye(blocks.shape[-1]), blocks[..., 0, :, :].shape)]
    for i in range(steps.shape[-3]):
        phi.append(steps[..., i, :, :] @ phi[-1])
    return np.stack(phi, axis=-3)


# -- the fully symmetric plateau --------------------------------------------------------------

def symmetric_coordinates(state, learn_head: bool = True):
    """y = (q, c, r, a) of states (Q (..., K, K), R (..., K, M), a (..., K)) projected onto
    the fully symmetric subspace: the means of the diagonal and of the off-diagonal entries of
    Q (c only for K > 1), of R, and of a (only if ``learn_head``); shape (..., n). A jnp
    array (also inside jitted code)."""
    Q, R, a = (jnp.asarray(v) for v in state)
    K = Q.shape[-1]
    tr = jnp.trace(Q, axis1=-2, axis2=-1)
    off = [(Q.sum(axis=(-2, -1)) - tr) / (K * (K - 1))] if K > 1 else []
    return jnp.stack([tr / K, *off, R.mean(axis=(-2, -1))]
                     + ([a.mean(axis=-1)] if learn_head else []), axis=-1)


def symmetric_state(y, K: int, M: int, a_fixed, learn_head: bool) -> State:
    """Inverse of :func:`symmetric_coordinates`: State(Q = q I + c (11ᵀ − I), R = r 11ᵀ,
    a = a 1, or ``a_fixed`` when the head is not learned)."""
    y = jnp.asarray(y)
    c = y[1] if K > 1 else 0.0
    i = 2 if K > 1 else 1
    Q = c * jnp.ones((K, K)) + (y[0] - c) * jnp.eye(K)
    R = y[i] * jnp.ones((K, M))
    a = y[i + 1] * jnp.ones(K) if learn_head else jnp.asarray(a_fixed, dtype=y.dtype)
    return State(Q, R, a)


@partial(jax.jit, static_argnames=("K", "M", "steps", "first_order", "learn_head"))
def _symmetric_reduced(y, a_fixed, hp, K, M, steps, first_order, learn_head):
    """The vector field in the coordinates y of :func:`symmetric_coordinates` (exact: the
    fully symmetric subspace is invariant) and its Jacobian in y."""
    def field(y):
        d = drift.vector_field(symmetric_state(y, K, M, a_fixed, learn_head), hp, steps,
                               first_order)
        return symmetric_coordinates(d, learn_head)

    return field(y), jax.jacfwd(field)(y)


class SymmetricPlateaus(NamedTuple):
    """Fully symmetric fixed points of a batch of B hyper-parameter points
    (:func:`symmetric_plateaus`).

    y (B, n): coordinates (q, c, r, a) of :func:`symmetric_coordinates`; residual (B,):
    max |dy/dα| at y; steps (B,): iterations used; found (B,): converged to a fixed point at
    finite norms; runaway (B,): the iterates ran away to q > max_norm (no plateau at finite
    norms); jac (B, n, n): the Jacobian of the reduced field at y; rate (B,): the
    specialization rate λ (:func:`specialization_rate`) for K = M (NaN otherwise), NaN
    where not found."""

    y: np.ndarray
    residual: np.ndarray
    steps: np.ndarray
    found: np.ndarray
    runaway: np.ndarray
    jac: np.ndarray
    rate: np.ndarray


def _jvp_field(state: State, u, hp, steps, first_order, learn_head):
    """J u: the derivative of the ODE right-hand side at ``state`` along u (coordinates of
    :func:`state_vector`), by one forward-mode product."""
    K, M = state.R.shape

    def f(x):
        s = state_from_vector(x, K, M, state.a, learn_head)
        return state_vector(*drift.vector_field(s, hp, steps, first_order), learn_head)

    return jax.jvp(f, (state_vector(*state, learn_head),), (jnp.asarray(u),))[1]


@partial(jax.jit, static_argnames=("K", "M", "steps", "first_order", "learn_head"))
def _ptc_batch(y0, a_fixed, hp, pseudo_time, tol, max_norm, K, M, steps, first_order,
               learn_head, max_iter):
    """Pseudo-transient continuation (see :func:`symmetric_plateaus`) vmapped over the
    leading axis of ``y0`` and ``hp``; returns (y, residual, iterations, runaway, reduced
    Jacobian, λ)."""
    u = specialization_mode(K, M, learn_head) if K == M else None

    def one(y0, hp):
        f = lambda y: _symmetric_reduced(y, a_fixed, hp, K, M, steps, first_order,  # noqa: E731
                                         learn_head)
        res, jac = f(y0)
        eye = jnp.eye(y0.shape[0])

        def cond(c):
            k, y, res, jac, norm, dtau = c
            return (k < max_iter) & (norm >= tol) & (jnp.abs(y[0]) <= max_norm)

        def body(c):
            k, y, res, jac, norm, dtau = c
            y_new = y + jnp.linalg.solve(eye / dtau - jac, res)
            res_new, jac_new = f(y_new)
            new = jnp.max(jnp.abs(res_new))
            ok = jnp.isfinite(new) & jnp.all(jnp.isfinite(y_new))
            pick = lambda a, b: jnp.where(ok, a, b)  # noqa: E731
            dtau = jnp.where(ok, dtau * jnp.minimum(norm / jnp.maximum(new, 1e-300), 10.0),
                             dtau / 4.0)
            return (k + 1, pick(y_new, y), pick(res_new, res), pick(jac_new, jac),
                    pick(new, norm), dtau)

        k, y, res, jac, norm, _ = jax.lax.while_loop(
            cond, body, (0, y0, res, jac, jnp.max(jnp.abs(res)), pseudo_time))
        lam = jnp.nan if u is None else u @ _jvp_field(symmetric_state(
            y, K, M, a_fixed, learn_head), u, hp, steps, first_order, learn_head)
        return y, norm, k, jnp.abs(y[0]) > max_norm, jac, lam

    return jax.vmap(one)(y0, hp)


def symmetric_plateaus(cfg, hypers: Hyper, guesses, tol: float = 1e-11, max_iter: int = 200,
                       pseudo_time: float = 10.0, max_norm: float = 1e3) -> SymmetricPlateaus:
    """The fixed points of the ODE in the fully symmetric subspace (every student unit
    equivalent, every teacher unit equivalent; see the module docstring) at B points
    ``hypers`` (a :class:`~metarep.drift.Hyper` whose leaves have a leading axis B, e.g.
    :func:`metarep.sweep.grid_hypers`), by pseudo-transient continuation from ``guesses``
    (B, n) coordinates (:func:`symmetric_coordinates`; one (n,) guess is broadcast), in one
    compiled, vmapped program. Structure (K, M, S, meta-gradient, learned head) from ``cfg``.

    Each iteration is an implicit-Euler step of the subspace's own flow,
    (I/Δτ − ∂f/∂y) δ = f(y), y ← y + δ, with the pseudo-time step Δτ (initially
    ``pseudo_time``) multiplied by the ratio of successive residuals (switched evolution
    relaxation, at most ×10 per step; divided by 4 after a non-finite step): far from the
    fixed point it follows the flow, which the plateau attracts inside the subspace, and
    near it the steps become Newton's. A good guess is a plateau state (a neighbouring fixed
    point, or the state of a run that has settled on its plateau). A point counts as found
    when the residual max |dy/dα| falls below ``tol`` within ``max_iter`` iterations with
    q ≤ ``max_norm``; as runaway when q exceeds ``max_norm`` (no plateau at finite norms).
    The teacher overlaps of ``hypers`` must be ∝ I and the readout means equal.
    """
    K, M = cfg.K, cfg.M
    learn_head = cfg.eta_head > 0
    for T, vb in zip(np.reshape(np.asarray(hypers.dist.T), (-1, M, M)),
                     np.reshape(np.asarray(hypers.dist.v_bar), (-1, M))):
        check_teacher_symmetric(T, vb)
    B = int(np.shape(hypers.eta)[0])
    y0 = np.broadcast_to(np.asarray(guesses, dtype=float), (B, 3 + (K > 1) - (not learn_head)))
    y, res, k, run, jac, lam = (np.asarray(v) for v in _ptc_batch(
        jnp.asarray(y0), jnp.asarray(cfg.a0_array), hypers, float(pseudo_time), float(tol),
        float(max_norm), K, M, cfg.inner_steps, cfg.first_order, learn_head,
        jnp.int32(max_iter)))
    found = (res < tol) & ~run
    return SymmetricPlateaus(y, res, k, found, run, jac, np.where(found, lam, np.nan))


def symmetric_plateau(cfg, guess, T=None, tol: float = 1e-11, max_iter: int = 200,
                      pseudo_time: float = 10.0, max_norm: float = 1e3) -> FixedPoint:
    """The fully symmetric fixed point of one configuration (:func:`symmetric_plateaus` with
    B = 1) from ``guess`` = (Q, R, a), projected onto the fully symmetric subspace. Returns
    a :class:`FixedPoint` with the full Jacobian (coordinates of :func:`state_vector`).
    Raises ValueError if the subspace is not invariant, if the iterates run away (q >
    ``max_norm``: no plateau at finite norms) or if they do not converge."""
    T = np.eye(cfg.M) if T is None else np.asarray(T, dtype=float)
    hp = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], drift.hyper(cfg, T))
    learn_head = cfg.eta_head > 0
    y0 = symmetric_coordinates([np.asarray(v, dtype=float) for v in guess], learn_head)
    sol = symmetric_plateaus(cfg, hp, np.asarray(y0)[None], tol, max_iter, pseudo_time,
                             max_norm)
    if sol.runaway[0]:
        raise ValueError(f"no plateau at finite norms: the iterates run away (q = "
                         f"{sol.y[0, 0]:.3g} > max_norm = {max_norm:g})")
    if not sol.found[0]:
        raise ValueError(f"pseudo-transient continuation did not converge to a symmetric "
                         f"fixed point (residual {sol.residual[0]:.3g} after {max_iter} steps)")
    Q, R, a = (np.asarray(v) for v in symmetric_state(sol.y[0], cfg.K, cfg.M, cfg.a0_array,
                                                      learn_head))
    J, _ = jacobian((Q, R, a), drift.hyper(cfg, T), cfg.inner_steps, cfg.first_order,
                    learn_head)
    ev = leading_eigenvalues(J, n=J.shape[0])
    return FixedPoint(Q, R, a, float(sol.residual[0]), J, ev, float(ev[0].real))


def specialization_mode(K: int, M: int, learn_head: bool = True) -> np.ndarray:
    """The unit vector u (coordinates of :func:`state_vector`) along δR = I − 11ᵀ/M (δQ = 0,
    δa = 0): each student unit turns towards its own teacher unit, away from the others.
    It is odd under every swap of teacher units and invariant under simultaneous permutations
    of student and teacher units, so at a fully symmetric fixed point it is an eigenvector
    of the Jacobian (K = M)."""
    if K != M:
        raise ValueError(f"the specialization mode I − 11ᵀ/M needs K = M, got K = {K}, M = {M}")
    n_q = K * (K + 1) // 2
    u = np.concatenate([np.zeros(n_q), (np.eye(K) - 1.0 / M).ravel(),
                        np.zeros(K if learn_head else 0)])     # Q_ij (i ≤ j), R_km, a_k
    return u / np.linalg.norm(u)


def specialization_rate(J, K: int, M: int, learn_head: bool = True) -> tuple[float, float]:
    """(λ, residual): the Rayleigh quotient λ = uᵀJu of the Jacobian J at a fully symmetric
    fixed point along :func:`specialization_mode` u, and ‖Ju − λu‖ (0 to rounding when u is
    an eigenvector, as it is there). λ > 0: a small asymmetry along u grows like
    exp(λα), and the run specializes."""
    u = specialization_mode(K, M, learn_head)
    Ju = np.asarray(J) @ u
    lam = float(u @ Ju)
    return lam, float(np.linalg.norm(Ju - lam * u))


__all__ = ["state_vector", "coordinate_names", "state_from_vector", "symmetry_breaking", "jacobian",
           "leading_eigenvalues", "FixedPoint", "check_teacher_symmetric",
           "plateau_fixed_point", "Modes", "modes", "symmetric_coordinates",
           "symmetric_state", "SymmetricPlateaus", "symmetric_plateaus", "symmetric_plateau",
           "specialization_mode", "specialization_rate",
           "teacher_symmetric_projection", "odd_basis", "odd_block", "odd_rate",
           "odd_coordinates", "odd_propagator"]
