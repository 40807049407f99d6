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
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

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


__all__ = ["state_vector", "coordinate_names", "state_from_vector", "symmetry_breaking", "jacobian",
           "leading_eigenvalues", "FixedPoint", "check_teacher_symmetric",
           "plateau_fixed_point", "Modes", "modes",
           "teacher_symmetric_projection", "odd_basis", "odd_block", "odd_rate",
           "odd_coordinates", "odd_propagator"]
