r"""Observables of the order parameters, and the linear analysis of the ODE at its fixed points.

Functions of a state (Q, R, a) and the task distribution (:class:`metarep.metaloss.TaskDist`):

* :func:`error_after` — task-averaged error after s test-time adaptation steps (s = S of the
  training run gives the meta-test error F; s = 0 the error without adaptation);
* :func:`oracle_error` — error with the best head of each task, ½⟨vᵀ(E − DᵀC⁻¹D)v⟩ + σ²/2;
* :func:`cosines` — R_km/√(Q_kk T_mm);
* :func:`specialization_index` — how much each hidden unit has committed to one teacher unit;
* :func:`record_observables` — the extra columns of an ODE :class:`~metarep.trajectory.Trajectory`;
* :func:`unspecialized_fixed_point`, :func:`jacobian`, :func:`leading_eigenvalues`,
  :func:`escape_rate` — the plateau and its instability (SPEC §2, "more outputs").
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from metarep import metaloss
from metarep.metaloss import TaskDist


def error_after(Q, R, a, dist: TaskDist, eta_in, s: int):
    """Task-averaged error after ``s`` (static) population adaptation steps of rate η_in."""
    return metaloss.meta_test_error(Q, R, a, dist, eta_in, s)


oracle_error = metaloss.oracle_error
no_adaptation_error = metaloss.no_adaptation_error


def cosines(Q, R, T):
    """cos_km = R_km/√(Q_kk T_mm), shape (..., K, M)."""
    dq = jnp.diagonal(Q, axis1=-2, axis2=-1)
    dt = jnp.diagonal(T, axis1=-2, axis2=-1)
    return R / jnp.sqrt(dq[..., :, None] * dt[..., None, :])


def specialization_index(Q, R, T):
    r"""Mean over hidden units of (largest − second largest) squared cosine with teacher units.

    s = (1/K) Σ_k [max_m cos²_km − max₂_m cos²_km] ∈ [0, 1], with max₂ the second largest value
    (0 when M = 1). s = 0 when every unit overlaps equally with (at least) two teacher units
    — the unspecialized plateau — and s = 1 when every unit is aligned with exactly one teacher
    unit and orthogonal to the others. Broadcasts over leading axes.
    """
    c2 = cosines(Q, R, T) ** 2
    if c2.shape[-1] == 1:
        return jnp.mean(c2[..., 0], axis=-1)
    top = jnp.sort(c2, axis=-1)
    return jnp.mean(top[..., -1] - top[..., -2], axis=-1)


def record_observables(Q, R, a, dist: TaskDist, eta_in, steps: int):
    """(eg, extra columns) of one state: eg = meta-test error after ``steps`` adaptation steps;
    extra: ``eg_noadapt`` (no adaptation), ``eg_oracle`` (best head per task),
    ``specialization`` (:func:`specialization_index`)."""
    eg = metaloss.meta_test_error(Q, R, a, dist, eta_in, steps)
    return eg, {"eg_noadapt": metaloss.no_adaptation_error(Q, R, a, dist),
                "eg_oracle": metaloss.oracle_error(Q, R, dist),
                "specialization": specialization_index(Q, R, dist.T)}


# -- linear analysis ------------------------------------------------------------------------


def _flatten(state, learn_head: bool):
    """(Q upper triangle, R, a if learned) → vector; Q is symmetric so only i ≤ j is kept."""
    Q, R, a = state
    iu = jnp.triu_indices(Q.shape[-1])
    parts = [Q[iu], R.ravel()] + ([a] if learn_head else [])
    return jnp.concatenate(parts)


def _unflatten(x, K, M, a_fixed, learn_head: bool):
    iu = jnp.triu_indices(K)
    nq = len(iu[0])
    U = jnp.zeros((K, K)).at[iu].set(x[:nq])
    Q = U + U.T - jnp.diag(jnp.diagonal(U))
    R = x[nq:nq + K * M].reshape(K, M)
    a = x[nq + K * M:] if learn_head else a_fixed
    return Q, R, a


def jacobian(state, hyper, steps: int, first_order: bool, learn_head: bool):
    """Jacobian of the ODE right-hand side at ``state`` by forward-mode autodiff.

    Coordinates: (Q_ij for i ≤ j, R_km row-major, a_k if ``learn_head``). Returns (J, x), J of
    shape (n, n) as a NumPy array and x the flattened state.
    """
    Q, R, a = (jnp.asarray(s, dtype=jnp.float64) for s in state)
    J, x = _jacobian(Q, R, a, hyper, steps, first_order, learn_head)
    return np.asarray(J), np.asarray(x)


@partial(jax.jit, static_argnames=("steps", "first_order", "learn_head"))
def _jacobian(Q, R, a, hyper, steps, first_order, learn_head):
    from metarep.ode import State, vector_field

    K, M = R.shape

    def f(x):
        s = State(*_unflatten(x, K, M, a, learn_head))
        return _flatten(vector_field(s, hyper, steps, first_order), learn_head)

    x = _flatten((Q, R, a), learn_head)
    return jax.jacfwd(f)(x), x


def leading_eigenvalues(J, n: int = 4):
    """The ``n`` eigenvalues of J with the largest real parts, sorted decreasingly."""
    ev = np.linalg.eigvals(np.asarray(J))
    return ev[np.argsort(-ev.real)][:n]


class FixedPoint(NamedTuple):
    """A fixed point of the ODE: state (Q, R, a), its residual max |rhs|, Jacobian J and its
    eigenvalues sorted by decreasing real part; ``escape_rate`` = largest real part (> 0 means
    the plateau is unstable and perturbations grow like exp(rate·α))."""

    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    residual: float
    J: np.ndarray
    eigenvalues: np.ndarray
    escape_rate: float


def _symmetric_state(y, K, M, a_fixed, learn_head):
    """Unspecialized state Q = q I + c(11ᵀ − I), R = r 11ᵀ, a = a_s 1 (or the fixed head)."""
    q, c, r = y[0], y[1], y[2]
    Q = c * jnp.ones((K, K)) + (q - c) * jnp.eye(K)
    R = r * jnp.ones((K, M))
    a = y[3] * jnp.ones(K) if learn_head else a_fixed
    return Q, R, a


def unspecialized_fixed_point(guess, hyper, steps: int, first_order: bool, learn_head: bool,
                              tol: float = 1e-11, max_iter: int = 50) -> FixedPoint:
    """The unspecialized (symmetric) fixed point, by Newton's method in the symmetric subspace.

    The subspace Q = q I + c(11ᵀ − I), R = r 11ᵀ, a = a_s 1 is invariant when T ∝ I and all
    v̄_m are equal (then every permutation of hidden units and of teacher units is a symmetry);
    Newton iterates on (q, c, r[, a_s]) using the averages of the corresponding components of
    the right-hand side. ``guess`` is a state (Q, R, a) — e.g. the plateau of an integrated
    trajectory — projected onto the subspace first. A fixed head (``learn_head`` False) must
    have equal entries. Raises ValueError if the symmetry is absent or Newton fails.
    """
    from metarep.ode import State, vector_field

    Q0, R0, a0 = (np.asarray(s, dtype=float) for s in guess)
    K, M = R0.shape
    T = np.asarray(hyper.dist.T)
    vb = np.asarray(hyper.dist.v_bar)
    if not (np.allclose(T, T[0, 0] * np.eye(M)) and np.allclose(vb, vb[0])
            and (learn_head or np.allclose(a0, a0[0]))):
        raise ValueError("the unspecialized fixed point needs T ∝ I, equal v̄_m and (for a "
                         "fixed head) equal head entries")
    off = (Q0.sum() - np.trace(Q0)) / max(K * (K - 1), 1)
    y = jnp.array([np.trace(Q0) / K, off, R0.mean()] + ([a0.mean()] if learn_head else []))
    a_fixed = jnp.asarray(a0)

    def reduced(y):
        Q, R, a = _symmetric_state(y, K, M, a_fixed, learn_head)
        d = vector_field(State(Q, R, a), hyper, steps, first_order)
        dQ = d.Q
        doff = (dQ.sum() - jnp.trace(dQ)) / max(K * (K - 1), 1)
        # K = 1 has no off-diagonal entry: the residual y[1] pins c = 0
        parts = [jnp.trace(dQ) / K, doff if K > 1 else y[1], d.R.mean()]
        return jnp.stack(parts + ([d.a.mean()] if learn_head else []))

    f = jax.jit(reduced)
    jf = jax.jit(jax.jacfwd(reduced))
    for _ in range(max_iter):
        res = f(y)
        if float(jnp.max(jnp.abs(res))) < tol:
            break
        y = y - jnp.linalg.solve(jf(y), res)
    Q, R, a = _symmetric_state(y, K, M, a_fixed, learn_head)
    full = jax.jit(vector_field, static_argnums=(2, 3))(State(Q, R, a), hyper, steps,
                                                         first_order)
    residual = float(max(jnp.max(jnp.abs(full.Q)), jnp.max(jnp.abs(full.R)),
                         jnp.max(jnp.abs(full.a)) if learn_head else 0.0))
    if not np.isfinite(residual) or residual > 1e3 * tol:
        raise ValueError(f"Newton's method did not converge to an unspecialized fixed point "
                         f"(residual {residual:.3g}); try a guess closer to the plateau")
    J, _ = jacobian((Q, R, a), hyper, steps, first_order, learn_head)
    ev = leading_eigenvalues(J, n=J.shape[0])
    return FixedPoint(np.asarray(Q), np.asarray(R), np.asarray(a), residual, J, ev,
                      float(ev[0].real))


def escape_rate(J) -> float:
    """Largest real part of the eigenvalues of a Jacobian: growth rate of the leading mode."""
    return float(leading_eigenvalues(J, n=1)[0].real)


__all__ = ["error_after", "oracle_error", "no_adaptation_error", "cosines",
           "specialization_index", "record_observables", "jacobian", "leading_eigenvalues",
           "FixedPoint", "unspecialized_fixed_point", "escape_rate"]
