r"""The drift of the order parameters: the right-hand side of the ODEs.

The state is (Q, R, a): Q = W Wᵀ/N (K×K), R = W Bᵀ/N (K×M) and the head initialisation a (K,).
With F(Q, R, a) the population meta-loss of :mod:`metarep.metaloss` (book equation
``eq-metaloss``, a function of the *unsymmetrised* entries of Q), A = ∂F/∂Q + (∂F/∂Q)ᵀ and
G = ∂F/∂R (``eq-AG``, reverse-mode autodiff), the ODEs are

    dR/dα = −η (A R + G T)                                         (eq-ode-R)
    dQ/dα = −η (A Q + Q A + G Rᵀ + R Gᵀ) + (η²/b) Φ                 (eq-ode-Q)
    da/dα = −η_a ∂F/∂a                                             (eq-ode-a)

(full meta-gradient: the adapted head a′ = P_S a + L_S v is differentiated through C and D).
They are N times the mean increments of one step (``eq-step-increments``), the projections on
the teacher and on the body of the mean body gradient ∇_{W_k}F = (Σ_l A_kl W_l + Σ_m G_km B_m)/N
(``eq-body-gradient``; the component of each task's gradient along its private teacher
directions Ξ^τ, ``eq-task-gradient``, drops out of the drift as N → ∞).
With ``first_order`` the derivatives are taken with a′ held fixed (the inner loop's C and D
are constants) and da/dα = −η_a ⟨∂ε/∂a′⟩. Φ (``eq-noise``,
:func:`metarep.metaloss.noise_term`) is the second-order term of the single-sample update
ΔW_k ∝ δ a′_k g'(λ_k) x/√N averaged exactly over tasks; b is the query batch. Without
adaptation (η_in = 0), with one task (σ_v = 0) and σ_B = 0 these are the classic equations of
online SGD for two-layer networks with I3 and I4 (``eq-classic``).

Hyper-parameters are the arrays of :class:`Hyper` (a pytree), so that they may be traced and
vmapped over (:func:`metarep.ode.integrate_batch`, :mod:`metarep.sweep`); the number of inner
steps S and ``first_order`` are static. A rate may also vary with α: a :class:`Schedule` in
place of one of the rates η, η_in, η_a (piecewise linear in α through its knots) is
evaluated at the current time by :func:`at` before the vector field, which itself stays
autonomous (the integrator of :mod:`metarep.ode` does this at every RK4 stage and record).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from metarep import metaloss, support
from metarep.metaloss import TaskDist
from metarep.support import Draws


class State(NamedTuple):
    """ODE state: Q (..., K, K), R (..., K, M), a (..., K)."""

    Q: jax.Array
    R: jax.Array
    a: jax.Array


class Hyper(NamedTuple):
    """Numeric hyper-parameters (traceable): η, η_in, η_a, query batch b, task distribution,
    and ``support``: None for the population inner loop, or the fixed
    :class:`~metarep.support.Draws` of a finite support of P samples (P is the length of their
    support axis; :mod:`metarep.support`)."""

    eta: jax.Array
    eta_in: jax.Array
    eta_head: jax.Array
    batch: jax.Array
    dist: TaskDist
    support: Draws | None = None


class Schedule(NamedTuple):
    """A rate that varies with α (a pytree: knots and values may be traced): piecewise linear
    through the points (knots[i], values[i]), constant before the first knot and after the
    last. knots (n,) increasing; values (n,)."""

    knots: jax.Array
    values: jax.Array

    def __call__(self, alpha):
        return jnp.interp(alpha, self.knots, self.values)


#: The fields of :class:`Hyper` that may hold a :class:`Schedule`.
SCHEDULABLE = ("eta", "eta_in", "eta_head")


def at(hp: Hyper, alpha) -> Hyper:
    """The hyper-parameters at time α: every :class:`Schedule` among the rates evaluated at
    ``alpha``; ``hp`` itself when it holds none (then the result does not depend on α)."""
    if not any(isinstance(getattr(hp, f), Schedule) for f in SCHEDULABLE):
        return hp
    return hp._replace(**{f: getattr(hp, f)(alpha) for f in SCHEDULABLE
                          if isinstance(getattr(hp, f), Schedule)})


def hyper(cfg, T=None, samples: int = support.SAMPLES, seed: int = 0) -> Hyper:
    """The :class:`Hyper` of a configuration (T: teacher overlaps, default identity); with a
    finite support, its draws (``samples`` support sets, Sobol ``seed``:
    :func:`metarep.support.draws`)."""
    draws = None if cfg.P is None else support.draws(cfg.P, cfg.K, cfg.M, samples, seed)
    return Hyper(eta=jnp.float64(cfg.eta), eta_in=jnp.float64(cfg.eta_in),
                 eta_head=jnp.float64(cfg.eta_head), batch=jnp.float64(cfg.query_batch),
                 dist=metaloss.task_dist(cfg, T), support=draws)


def _finite_support_terms(state: State, hp: Hyper, steps: int, first_order: bool):
    """(∂F/∂Q, ∂F/∂R, head direction, Φ) with a finite support (:mod:`metarep.support`)."""
    Q, R, a = state
    dist, dr = hp.dist, hp.support
    if first_order:
        # the support's law held fixed at (Q, R): a′ does not move with the gradient
        lw = support.law(Q, R, dist)
        (dFdQ, G), _ = jax.grad(support.error_and_law, argnums=(0, 1), has_aux=True)(
            Q, R, a, dist, hp.eta_in, steps, dr, lw)
        head = support.mean_adapted_head_gradient(Q, R, a, dist, hp.eta_in, steps, dr, lw)
    else:
        (dFdQ, G, head), lw = jax.grad(support.error_and_law, argnums=(0, 1, 2),
                                       has_aux=True)(Q, R, a, dist, hp.eta_in, steps, dr)
    phi = support.noise_term(Q, R, a, dist, hp.eta_in, hp.batch, steps, first_order, dr, lw)
    return dFdQ, G, head, phi


def _population_terms(state: State, hp: Hyper, steps: int, first_order: bool):
    """(∂F/∂Q, ∂F/∂R, head direction, Φ) of the population inner loop (:mod:`metarep.metaloss`)."""
    Q, R, a = state
    dist = hp.dist
    if first_order:
        # a′ built from (Q, R) passed a second time: the gradient is taken with a′ held fixed,
        # while derivatives of the vector field itself (its Jacobian) still see a′ move
        dFdQ, G = jax.grad(metaloss.first_order_error, argnums=(0, 1))(
            Q, R, a, Q, R, dist, hp.eta_in, steps)
        head = metaloss.mean_adapted_head_gradient(Q, R, a, dist, hp.eta_in, steps)
    else:
        dFdQ, G, head = jax.grad(metaloss.meta_test_error, argnums=(0, 1, 2))(
            Q, R, a, dist, hp.eta_in, steps)
    return dFdQ, G, head, metaloss.noise_term(Q, R, a, dist, hp.eta_in, steps)


def vector_field(state: State, hp: Hyper, steps: int, first_order: bool) -> State:
    """dQ/dα, dR/dα, da/dα at ``state`` (``eq-ode-R``, ``eq-ode-Q``, ``eq-ode-a``; pure,
    jittable; ``steps`` = S and ``first_order`` static). The meta-loss F and the noise term Φ
    are those of the population inner loop, or of a finite support when ``hp.support`` holds
    draws (``eq-fs-expansion``, ``eq-fs-noise``)."""
    Q, R, _ = state
    terms = _population_terms if hp.support is None else _finite_support_terms
    dFdQ, G, head, phi = terms(state, hp, steps, first_order)
    A = dFdQ + dFdQ.T
    T = hp.dist.T
    dR = -hp.eta * (A @ R + G @ T)
    dQ = -hp.eta * (A @ Q + Q @ A + G @ R.T + R @ G.T) + hp.eta**2 / hp.batch * phi
    return State(dQ, dR, -hp.eta_head * head)


_vector_field_jit = jax.jit(vector_field, static_argnames=("steps", "first_order"))


def rhs(state, cfg, T=None) -> State:
    """dQ/dα, dR/dα, da/dα at ``state`` = (Q, R, a) for a :class:`~metarep.config.Config`."""
    s = State(*(jnp.asarray(x, dtype=jnp.float64) for x in state))
    return _vector_field_jit(s, hyper(cfg, T), cfg.inner_steps, cfg.first_order)


__all__ = ["State", "Hyper", "Schedule", "SCHEDULABLE", "at", "hyper", "vector_field",
           "rhs"]
