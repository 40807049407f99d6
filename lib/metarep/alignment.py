r"""Canonical unit labels: compare and average runs whose hidden units broke the symmetry
differently.

The meta-loss is invariant under permutations of the meta-learner's hidden units and under
the reflection (W_k, a_k) → (−W_k, −a_k) (g is odd). A run that specializes picks one
assignment of its units to the teacher's units, with signs, at random; averaging runs (seeds)
or comparing a simulation with the ODE started from its initial state is meaningful only
after each run has been relabelled the same way (:func:`canonical_units`).
"""

from __future__ import annotations

import numpy as np


def unit_order(cos_last) -> tuple[np.ndarray, np.ndarray]:
    """(permutation (K,), signs (K,)) of one run from its cosines (K, M) at the last record:
    unit k becomes the unit most aligned with teacher unit k (greedily, for k < min(K, M));
    the remaining units follow by decreasing largest |cosine|; each unit's sign makes its
    largest-|cosine| entry positive."""
    c = np.abs(np.asarray(cos_last, dtype=float))
    K, M = c.shape
    order, free = [], list(range(K))
    for m in range(min(K, M)):
        k = max(free, key=lambda u: c[u, m])
        order.append(k)
        free.remove(k)
    order += sorted(free, key=lambda u: -c[u].max())
    perm = np.array(order)
    last = np.asarray(cos_last, dtype=float)[perm]
    sign = np.sign(last[np.arange(K), np.argmax(np.abs(last), axis=1)])
    sign[sign == 0] = 1.0
    return perm, sign


def canonical_units(traj):
    """Relabel and reflect the units of each run of a :class:`~metarep.trajectory.Trajectory`
    (per seed, fixed by :func:`unit_order` at the last record and applied to every record):
    Q → σσᵀ ∘ Q[π][:, π], R → σ R[π], a → σ a[π]. No observable changes; unit k is then the
    one that ends aligned with teacher unit k, with a positive cosine, in every run."""
    cos = traj.cosines()
    lead = () if not traj.has_seeds else (len(traj.seeds),)
    Q, R, a = traj.Q.copy(), traj.R.copy(), traj.a.copy()
    for idx in np.ndindex(*lead):
        perm, sign = unit_order(cos[idx][-1])
        Q[idx] = traj.Q[idx][:, perm][:, :, perm] * np.outer(sign, sign)
        R[idx] = traj.R[idx][:, perm] * sign[:, None]
        a[idx] = traj.a[idx][:, perm] * sign
    return traj.replace(Q=Q, R=R, a=a)


__all__ = ["unit_order", "canonical_units"]
