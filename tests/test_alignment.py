"""metarep.alignment: canonical labels and signs of the hidden units of runs."""

import numpy as np
import pytest

from metarep.alignment import canonical_units, unit_order
from metarep.observables import specialization_index
from metarep.trajectory import Trajectory


def _toy(seeds=None):
    """Unit 0 ends aligned with teacher 1 with a negative cosine, unit 1 with teacher 0."""
    n = 11
    alpha = np.linspace(0, 10, n)
    s = np.linspace(0, 1, n)
    R = np.zeros((n, 2, 2))
    R[:, 0, 1] = -(0.5 + 0.5 * s)
    R[:, 0, 0] = -0.5 * (1 - s)
    R[:, 1, 0] = 0.5 + 0.5 * s
    R[:, 1, 1] = 0.5 * (1 - s)
    Q = np.broadcast_to(np.array([[1.0, -0.3], [-0.3, 2.0]]), (n, 2, 2)).copy()
    a = np.broadcast_to(np.array([-0.4, 0.7]), (n, 2)).copy()
    eg = 0.1 * (1 - s) + 0.01
    if seeds is not None:
        Q, R, a, eg = (np.stack([x] * len(seeds)) for x in (Q, R, a, eg))
    return Trajectory(alpha, Q, R, a, eg, seeds=seeds)


@pytest.mark.parametrize("seeds", [None, np.array([0, 1])])
def test_canonical_units_relabels_and_reflects(seeds):
    tr = _toy(seeds)
    can = canonical_units(tr)
    last = can.cosines()[..., -1, :, :]
    np.testing.assert_allclose(last, np.broadcast_to(np.diag([2**-0.5, 1.0]), last.shape),
                               atol=1e-15)
    # unit 1 of the toy (Q_11 = 2, a = 0.7) becomes unit 0; unit 0 is reflected
    np.testing.assert_allclose(can.Q[..., 0, 0], 2.0)
    np.testing.assert_allclose(can.Q[..., 0, 1], 0.3)
    last_a = can.a[..., -1, :]
    np.testing.assert_allclose(last_a, np.broadcast_to([0.7, 0.4], last_a.shape))
    # observables invariant under relabelling: specialization index, norms, error
    np.testing.assert_allclose(specialization_index(can.Q, can.R, can.T),
                               specialization_index(tr.Q, tr.R, tr.T), atol=1e-15)
    np.testing.assert_allclose(can.eg, tr.eg)


def test_canonical_units_per_seed_with_per_seed_teachers():
    """Each seed is relabelled by its own last cosines (with its own T)."""
    tr = _toy(np.array([0, 1]))
    R = tr.R.copy()
    R[1] = R[1][..., ::-1]                      # seed 1: teacher units swapped
    T = np.stack([np.eye(2), np.diag([4.0, 1.0])])
    can = canonical_units(tr.replace(R=R, T=T))
    # seed 0 swaps its units (and reflects one), seed 1 keeps their order (reflects unit 0)
    np.testing.assert_allclose(can.a[:, -1], [[0.7, 0.4], [0.4, 0.7]])
    np.testing.assert_allclose(can.cosines()[:, -1],
                               [np.diag([2**-0.5, 1.0]), np.diag([0.5, 2**-0.5])], atol=1e-15)


def test_unit_order_greedy_with_extra_units():
    """K = 3 > M = 2: units most aligned with teachers 0, 1 first (signs positive), then the
    remaining unit."""
    cos = np.array([[0.1, -0.9], [0.2, 0.1], [-0.8, 0.3]])
    perm, sign = unit_order(cos)
    np.testing.assert_array_equal(perm, [2, 0, 1])
    np.testing.assert_array_equal(sign, [-1.0, -1.0, 1.0])
