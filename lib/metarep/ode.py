r"""Order-parameter ODEs of online meta-learning (SPEC §2) and their integration.

The state is (Q, R, a): Q = W Wᵀ/N (K×K), R = W Bᵀ/N (K×M) and the head initialisation a (K,).
With F(Q, R, a) the population meta-loss of :mod:`metarep.metaloss` (a function of the
*unsymmetrised* entries of Q), A = ∂F/∂Q + (∂F/∂Q)ᵀ and G = ∂F/∂R (reverse-mode autodiff):

    dR/dα = −η (A R + G T)
    dQ/dα = −η (A Q + Q A + G Rᵀ + R Gᵀ) + (η²/b) Φ
    da/dα = −η_a ∂F/∂a

(full meta-gradient: the adapted head a′ = P_S a + L_S v is differentiated through C and D).
With ``first_order`` the derivatives are taken with a′ held fixed (the inner loop's C and D
are constants) and da/dα = −η_a ⟨∂ε/∂a′⟩. Φ (:func:`metarep.metaloss.noise_term`) is the
second-order term of the single-sample update ΔW_k ∝ δ a′_k g'(λ_k) x/√N averaged exactly over
tasks; b is the query batch.

Hyper-parameters are the arrays of :class:`Hyper` (a pytree), so that they may be traced and
vmapped over (:mod:`metarep.sweep`); the number of inner steps S and ``first_order`` are static.

Integration: classical fixed-step RK4 inside ``lax.scan`` under ``jit``. Between consecutive
requested times α_i < α_{i+1} the interval is split into n_i = ⌈(α_{i+1} − α_i)/dt⌉ equal
steps, so every record falls exactly on the grid and no step exceeds ``cfg.dt`` (any,
e.g. log-spaced, record times work).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from metarep import metaloss, observables
from metarep.errors import ConfigError, DivergenceError
from metarep.metaloss import TaskDist


class State(NamedTuple):
    """ODE state: Q (..., K, K), R (..., K, M), a (..., K)."""

    Q: jax.Array
    R: jax.Array
    a: jax.Array


class Hyper(NamedTuple):
    """Numeric hyper-parameters (traceable): η, η_in, η_a, query batch b, task distribution."""

    eta: jax.Array
    eta_in: jax.Array
    eta_head: jax.Array
    batch: jax.Array
    dist: TaskDist


def hyper(cfg, T=None) -> Hyper:
    """The :class:`Hyper` of a configuration (T: teacher overlaps, default identity)."""
    return Hyper(eta=jnp.float64(cfg.eta), eta_in=jnp.float64(cfg.eta_in),
                 eta_head=jnp.float64(cfg.eta_head), batch=jnp.float64(cfg.query_batch),
                 dist=metaloss.task_dist(cfg, T))


def vector_field(state: State, hp: Hyper, steps: int, first_order: bool) -> State:
    """dQ/dα, dR/dα, da/dα at ``state`` (pure, jittable; ``steps`` and ``first_order`` static)."""
    Q, R, a = state
    dist = hp.dist
    if first_order:
        Qs, Rs = jax.lax.stop_gradient(Q), jax.lax.stop_gradient(R)
        dFdQ, G = jax.grad(metaloss.first_order_error, argnums=(0, 1))(
            Q, R, a, Qs, Rs, dist, hp.eta_in, steps)
        head = metaloss.mean_adapted_head_gradient(Q, R, a, dist, hp.eta_in, steps)
    else:
        dFdQ, G, head = jax.grad(metaloss.meta_test_error, argnums=(0, 1, 2))(
            Q, R, a, dist, hp.eta_in, steps)
    A = dFdQ + dFdQ.T
    T = dist.T
    dR = -hp.eta * (A @ R + G @ T)
    phi = metaloss.noise_term(Q, R, a, dist, hp.eta_in, steps)
    dQ = -hp.eta * (A @ Q + Q @ A + G @ R.T + R @ G.T) + hp.eta**2 / hp.batch * phi
    return State(dQ, dR, -hp.eta_head * head)


def rhs(state, cfg, T=None) -> State:
    """dQ/dα, dR/dα, da/dα at ``state`` = (Q, R, a) for a :class:`~metarep.config.Config`."""
    _check_support(cfg)
    s = State(*(jnp.asarray(x, dtype=jnp.float64) for x in state))
    return _vector_field_jit(s, hyper(cfg, T), cfg.inner_steps, cfg.first_order)


_vector_field_jit = jax.jit(vector_field, static_argnames=("steps", "first_order"))


_RK4_NODES = np.array([0.0, 0.5, 0.5, 1.0])
_RK4_WEIGHTS = np.array([1.0, 2.0, 2.0, 1.0]) / 6.0


def _rk4(state: State, h, hp: Hyper, steps: int, first_order: bool) -> State:
    """One classical RK4 step; the four stages run in a ``lax.scan`` so that the vector field
    is traced (and compiled) once: k_i = f(y + c_i h k_{i−1}), y ← y + h Σ w_i k_i."""
    tree = jax.tree_util.tree_map

    def stage(carry, cw):
        acc, k = carry
        c, w = cw
        k = vector_field(tree(lambda y, kk: y + c * h * kk, state, k), hp, steps, first_order)
        return (tree(lambda s, kk: s + w * h * kk, acc, k), k), None

    zero = tree(jnp.zeros_like, state)
    (new, _), _ = jax.lax.scan(stage, (state, zero), (_RK4_NODES, _RK4_WEIGHTS))
    return new


def solve(state0: State, hp: Hyper, grid, dt, steps: int, first_order: bool) -> State:
    """States at the times ``grid`` (n,), starting from ``state0`` at ``grid[0]``.

    Each interval [grid_i, grid_{i+1}] takes ⌈Δ/dt⌉ equal RK4 steps. Pure and jittable
    (``steps``, ``first_order`` static); returns a State with a leading axis of length n.
    """
    def interval(state, ends):
        lo, hi = ends
        n = jnp.maximum(jnp.ceil((hi - lo) / dt - 1e-9), 1.0)
        h = (hi - lo) / n
        state = jax.lax.fori_loop(0, n.astype(jnp.int32),
                                  lambda i, s: _rk4(s, h, hp, steps, first_order), state)
        return state, state

    _, states = jax.lax.scan(interval, state0, (grid[:-1], grid[1:]))
    return jax.tree_util.tree_map(lambda x0, xs: jnp.concatenate([x0[None], xs]), state0, states)


@partial(jax.jit, static_argnames=("steps", "first_order"))
def solve_and_observe(state0: State, hp: Hyper, grid, dt, steps: int, first_order: bool):
    """:func:`solve` plus the recorded observables: (states, eg (n,), extra columns dict)."""
    states = solve(state0, hp, grid, dt, steps, first_order)
    obs = jax.vmap(lambda Q, R, a: observables.record_observables(Q, R, a, hp.dist, hp.eta_in,
                                                                  steps))
    eg, extra = obs(*states)
    return states, eg, extra


def _check_support(cfg) -> None:
    if cfg.support != "inf":
        raise ConfigError(f"support = {cfg.support}: the ODE theory covers the population inner "
                          'loop only (support = "inf"); finite support is simulator-only')


def _time_grid(alphas) -> tuple[np.ndarray, bool]:
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)):
        raise ValueError("alphas must be a non-empty 1-d array of finite times")
    if alphas[0] < 0 or np.any(np.diff(alphas) < 0):
        raise ValueError("alphas must be non-negative and non-decreasing")
    if alphas[0] == 0:
        return alphas, False
    return np.concatenate([[0.0], alphas]), True


#: A record counts as diverged when its meta-test error exceeds this multiple of the error of
#: the zero predictor (f ≡ 0): the adaptation then amplifies instead of fitting.
EG_BLOWUP = 1e3


def inner_stiffness(Q, eta_in) -> float:
    """η_in λ_max(C), C = I2(Q): the inner loop is stable below 2 (eq-inner-stability)."""
    from metarep.integrals import i2_matrix

    Q = np.asarray(Q)
    dq = np.diagonal(Q)
    C = np.asarray(i2_matrix(Q, dq, dq))
    return float(eta_in * np.linalg.eigvalsh((C + C.T) / 2).max())


def inner_loop_unstable(Q, eta_in) -> bool:
    """True when η_in ≥ 2/λ_max(C), C = I2(Q): the population inner loop then diverges in S."""
    return inner_stiffness(Q, eta_in) >= 2.0


@jax.jit
def diverged(states: State, eg, dist: TaskDist):
    """Mask (..., n) of diverged records: non-finite state or error, or eg > EG_BLOWUP × the
    error of the zero predictor (:func:`metarep.metaloss.zero_predictor_error`); shapes:
    states (n, …), eg (n,) → (n,)."""
    Q, R, a = states
    finite = (jnp.isfinite(Q).all(axis=(-1, -2)) & jnp.isfinite(R).all(axis=(-1, -2))
              & jnp.isfinite(a).all(axis=-1) & jnp.isfinite(eg))
    zero = metaloss.zero_predictor_error(dist)
    return ~finite | (eg > EG_BLOWUP * zero)


def divergence_message(alpha, bad, states, cfg, hp: Hyper) -> str:
    """Name the likely cause of a divergence first seen at record ``bad`` (index into alpha)."""
    last = max(bad - 1, 0)
    where = (f"between α = {alpha[last]:.6g} and α = {alpha[bad]:.6g}" if bad > 0
             else f"at α = {alpha[bad]:.6g}")
    Q, R, a = (np.asarray(x[last]) for x in states)
    if cfg.inner_steps > 1 and inner_loop_unstable(Q, cfg.eta_in):
        cause = (f"the inner loop is unstable: eta_in = {cfg.eta_in} ≥ 2/λ_max(C) (C = I2(Q)), "
                 f"so {cfg.inner_steps} adaptation steps amplify the head; reduce eta_in")
    elif (cfg.first_order and cfg.eta_head > 0 and cfg.inner_steps % 2 == 1
          and inner_stiffness(Q, cfg.eta_in) > 1.0):
        cause = (f"the first-order head update is unstable: eta_in·λ_max(C) = "
                 f"{inner_stiffness(Q, cfg.eta_in):.3g} > 1 with an odd number of inner steps "
                 f"(S = {cfg.inner_steps}), so da/dα = −η_a C (I − η_in C)^S a + … grows; reduce "
                 "eta_in or eta_head, or use the full meta-gradient")
    else:
        from metarep.observables import jacobian

        rho = np.inf
        if np.all(np.isfinite(Q)) and np.all(np.isfinite(R)) and np.all(np.isfinite(a)):
            J, _ = jacobian((Q, R, a), hp, cfg.inner_steps, cfg.first_order, True)
            rho = float(np.abs(np.linalg.eigvals(J)).max()) if np.all(np.isfinite(J)) else np.inf
        if np.isfinite(rho) and rho * cfg.dt > 2.0:
            cause = (f"the integration step dt = {cfg.dt} is too large for the fastest rate "
                     f"of the ODE ({rho:.3g}, RK4 needs dt·rate ≲ 2.8); reduce dt")
        else:
            cause = (f"the outer learning rates are too large (eta = {cfg.eta}, eta_head = "
                     f"{cfg.eta_head}, the η²/b noise term dominates or the drift overshoots); "
                     "reduce eta or eta_head, or increase query_batch")
    return f"ODE integration diverged {where}: {cause}"


def initial_state(cfg):
    """(State, T) of a configuration: explicit Q0/R0/a0, or the overlaps of the random
    microscopic initialisation with cfg.seed and cfg.N (identical to the simulator's start)."""
    from metarep.initial import initial_order_parameters

    op = initial_order_parameters(cfg)
    return State(jnp.asarray(op.Q), jnp.asarray(op.R), jnp.asarray(op.a)), np.asarray(op.T)


def padded_grid(grid) -> np.ndarray:
    """The time grid padded with copies of its last time to the next power of two (≥ 16).

    The compiled integration depends on the number of records; padding lets runs with
    different numbers of records share one compilation. A zero-length interval costs one RK4
    step of size 0, which leaves the state unchanged; drop the padded records afterwards.
    """
    grid = np.asarray(grid, dtype=float)
    size = max(16, 1 << int(np.ceil(np.log2(len(grid)))))
    return np.concatenate([grid, np.full(size - len(grid), grid[-1])])


def integrate(cfg, alphas=None, *, state0=None, T=None):
    """Integrate the ODE of ``cfg`` and record the state at ``alphas`` (default cfg.record_alphas).

    ``state0`` = (Q, R, a) and ``T`` override the initial state of the configuration (e.g.
    the measured overlaps of a simulation). Returns a :class:`~metarep.trajectory.Trajectory`
    with eg = meta-test error and observables ``eg_noadapt``, ``eg_oracle``,
    ``specialization``. Raises :class:`~metarep.errors.DivergenceError` if a record diverges
    (:func:`diverged`: non-finite, or eg > EG_BLOWUP × the zero predictor's error), naming the
    α interval and the likely cause (unstable inner loop, integration step, outer rates).
    """
    from metarep.trajectory import Trajectory

    _check_support(cfg)
    alphas = cfg.record_alphas if alphas is None else alphas
    grid, drop_first = _time_grid(alphas)
    if state0 is None:
        s0, T0 = initial_state(cfg)
    else:
        s0 = State(*(jnp.asarray(x, dtype=jnp.float64) for x in state0))
        T0 = None
    T = T0 if T is None else T
    hp = hyper(cfg, T)
    states, eg, extra = solve_and_observe(s0, hp, jnp.asarray(padded_grid(grid)), cfg.dt,
                                          cfg.inner_steps, cfg.first_order)
    n = len(grid)
    states, eg = State(*(x[:n] for x in states)), eg[:n]
    extra = {k: v[:n] for k, v in extra.items()}
    bad = np.asarray(diverged(states, eg, hp.dist))
    if bad.any():
        raise DivergenceError(divergence_message(grid, int(np.argmax(bad)), states, cfg, hp))
    Q, R, a, eg = (np.asarray(x) for x in (*states, eg))
    extra = {k: np.asarray(v) for k, v in extra.items()}
    if drop_first:
        Q, R, a, eg = Q[1:], R[1:], a[1:], eg[1:]
        extra = {k: v[1:] for k, v in extra.items()}
        grid = grid[1:]
    return Trajectory(grid, Q, R, a, eg, observables=extra, seeds=None, config=cfg,
                      T=np.asarray(hp.dist.T))


__all__ = ["State", "Hyper", "hyper", "vector_field", "rhs", "solve", "solve_and_observe",
           "initial_state", "padded_grid", "integrate", "inner_loop_unstable", "diverged",
           "divergence_message", "EG_BLOWUP"]
