r"""Observables of one state of the order parameters (Q, R, a) and the teacher overlaps T.

Every function is pure and jittable, takes arrays with any leading (batch) axes, and acts on
one state per trailing block:

* :func:`cosines` — R_km/√(Q_kk T_mm);
* :func:`specialization_index` — how much each hidden unit has committed to one teacher unit
  (book equation ``eq-spec-index``);
* :func:`coverage` — how many *distinct* teacher units have an aligned student unit (the
  specialization index alone cannot tell whether two units copy the same teacher unit);
* :func:`teacher_subspace_fraction` — how much of each unit lies in the teacher's span;
* :func:`activation_gram` and :func:`inner_stiffness` — C = I2(Q) and η_in λ_max(C), which
  decides the stability of the inner loop (``eq-inner-stability``);
* :func:`record_observables` — the extra columns of a theory
  :class:`~metarep.trajectory.Trajectory`.

The errors of a state (meta-test error after s adaptation steps, oracle error, error without
adaptation) are functions of the meta-loss: :mod:`metarep.metaloss`.
"""

from __future__ import annotations

import jax.numpy as jnp

from metarep import integrals, metaloss, support
from metarep.metaloss import TaskDist

#: Absolute cosine from which a student unit counts as aligned with a teacher unit
#: (:func:`coverage`; the unit roles of over-parameterized networks use the same threshold).
ALIGN = 0.9


def cosines(Q, R, T):
    """cos_km = R_km/√(Q_kk T_mm), shape (..., K, M)."""
    dq = jnp.diagonal(Q, axis1=-2, axis2=-1)
    dt = jnp.diagonal(T, axis1=-2, axis2=-1)
    return R / jnp.sqrt(dq[..., :, None] * dt[..., None, :])


def specialization_index(Q, R, T):
    r"""Mean over hidden units of (largest − second largest) squared cosine with teacher units
    (``eq-spec-index``).

    s = (1/K) Σ_k [max_m cos²_km − max₂_m cos²_km] ∈ [0, 1], with max₂ the second largest value
    (0 when M = 1). s = 0 whenever every unit overlaps equally with its two closest teacher
    units — on the teacher-symmetric plateau, but also e.g. for R_k1 = −R_k2 — and s = 1 when
    every unit is aligned with exactly one teacher unit and orthogonal to the others (not
    necessarily a *distinct* one: see :func:`coverage`). Broadcasts over leading axes.
    """
    c2 = cosines(Q, R, T) ** 2
    if c2.shape[-1] == 1:
        return jnp.mean(c2[..., 0], axis=-1)
    top = jnp.sort(c2, axis=-1)
    return jnp.mean(top[..., -1] - top[..., -2], axis=-1)


def coverage(Q, R, T, align: float = ALIGN):
    """Number of distinct teacher units m that some student unit k is aligned with,
    |cos_km| ≥ ``align``; shape (...) (integer-valued floats, between 0 and M)."""
    aligned = jnp.abs(cosines(Q, R, T)) >= align            # (..., K, M)
    return jnp.sum(jnp.any(aligned, axis=-2), axis=-1).astype(Q.dtype)


def teacher_subspace_fraction(Q, R, T):
    """Fraction of each student unit's squared norm that lies in the span of the teacher's
    units, |P_B W_k|²/|W_k|² = (R T⁻¹ Rᵀ)_kk / Q_kk, shape (..., K), in [0, 1] (about M/N for
    a random body, 1 for a body inside the teacher's span)."""
    RT = jnp.swapaxes(jnp.linalg.solve(T, jnp.swapaxes(R, -1, -2)), -1, -2)   # R T⁻¹
    return jnp.sum(RT * R, axis=-1) / jnp.diagonal(Q, axis1=-2, axis2=-1)


def activation_gram(Q):
    """C = I2(Q) (..., K, K): the Gram matrix E[g(λ_k) g(λ_l)] of the hidden activations."""
    dq = jnp.diagonal(Q, axis1=-2, axis2=-1)
    return integrals.i2_matrix(Q, dq, dq)


def inner_stiffness(Q, eta_in):
    """η_in λ_max(C), C = I2(Q) (Q (..., K, K), eta_in broadcastable to (...); returns (...)).

    The population inner loop a ← a − η_in(C a − D v) is stable iff it is < 2
    (``eq-inner-stability``); the first-order head update, whose linear part is
    −η_a C (I − η_in C)^S, is stable for odd S iff it is < 1 (``eq-fo-head``). NaN where Q is
    not finite.
    """
    ok = jnp.all(jnp.isfinite(Q), axis=(-1, -2))
    safe = jnp.where(ok[..., None, None], Q, jnp.eye(Q.shape[-1], dtype=Q.dtype))
    C = activation_gram(safe)
    lam = jnp.linalg.eigvalsh(0.5 * (C + jnp.swapaxes(C, -1, -2)))[..., -1]
    return jnp.where(ok, eta_in * lam, jnp.nan)


def record_observables(Q, R, a, dist: TaskDist, eta_in, steps: int, draws=None):
    """(eg, extra columns) of one state: eg = meta-test error after ``steps`` adaptation steps
    (``eq-metaloss``; on P support samples, ``eq-fs-expansion``, when ``draws`` are the
    :class:`~metarep.support.Draws` of a finite support); extra: ``eg_noadapt`` (no
    adaptation), ``eg_oracle`` (best head per task), ``specialization``
    (:func:`specialization_index`)."""
    eg = support.meta_test_error(Q, R, a, dist, eta_in, steps, draws)
    return eg, {"eg_noadapt": metaloss.no_adaptation_error(Q, R, a, dist),
                "eg_oracle": metaloss.oracle_error(Q, R, dist),
                "specialization": specialization_index(Q, R, dist.T)}


__all__ = ["ALIGN", "cosines", "specialization_index", "coverage", "teacher_subspace_fraction",
           "activation_gram",
           "inner_stiffness", "record_observables"]
