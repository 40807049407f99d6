"""Unit tests of metarep.studies.overparameterization (chapter "Over-parameterization")."""

import numpy as np
import pytest

from metarep import metaloss, ode
from metarep.config import Config
from metarep.studies import overparameterization as op

CFG = Config(K=3, M=2, N=200, eta=1.0, eta_in=2.0, eta_head=1.0, inner_steps=1, v_mean=1.0,
             v_std=0.5, alpha_max=2.0, record_every=1.0, dt=0.05)


def test_ode_ensemble_equals_integrate_per_seed():
    """The vmapped ensemble is the ODE of each seed's initial state (ode.integrate)."""
    ens = op.ode_ensemble(CFG, [0, 3])
    assert ens.K == 3 and ens.M == 2 and ens.eg.shape == (2, 3) and ens.Q.shape == (2, 3, 3, 3)
    for i, seed in enumerate((0, 3)):
        ref = ode.integrate(CFG.replace(seed=seed))
        np.testing.assert_allclose(ens.eg[i], ref.eg, rtol=1e-10)
        np.testing.assert_allclose(ens.R[i], ref.R, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(ens.specialization[i], ref.observables["specialization"],
                                   rtol=1e-10, atol=1e-14)
    sub = ens.select([3])
    np.testing.assert_array_equal(sub.eg[0], ens.eg[1])
    traj = ens.trajectory(1)
    assert traj.config.seed == 3 and traj.eg.shape == (3,)
    assert ens.final_error.shape == (2,) and ens.t_spec.shape == (2,)
    with pytest.raises(ValueError, match="start at alpha = 0"):
        op.ode_ensemble(CFG, [0], alphas=[1.0, 2.0])


def _state():
    """K = 4 units: two copies of teacher 0 (one anti-aligned), one of teacher 1, one tiny."""
    R = np.array([[1.0, 0.0], [-0.9, 0.05], [0.0, 1.0], [0.01, 0.01]])
    Q = np.diag([1.0, 0.81 + 0.0025 + 0.01, 1.0, 0.0004 + 1e-4])
    a = np.array([0.5, -0.5, 1.0, 0.0])
    return Q, R, a


def test_unit_roles_classifies_copies_signs_and_inactive_units():
    Q, R, a = _state()
    cfg = CFG.replace(K=4)
    r = op.unit_roles(Q, R, a, cfg)
    np.testing.assert_array_equal(r.teacher[:3], [0, 0, 1])
    np.testing.assert_array_equal(r.sign[:3], [1, -1, 1])
    assert list(r.role) == ["copy", "copy", "copy", "inactive"]
    np.testing.assert_array_equal(r.copies, [2, 1])
    np.testing.assert_allclose(r.share.sum(), 1.0)
    # the adapted head is P a + L v̄ of the library's inner loop
    dist = metaloss.task_dist(cfg)
    b = metaloss.blocks(Q, R, dist)
    P, L = metaloss.inner_loop(b.C, b.D, cfg.eta_in, cfg.inner_steps)
    np.testing.assert_allclose(r.adapted_head, np.asarray(P @ a + L @ dist.v_bar), rtol=1e-12)
    signed = r.sign * r.adapted_head
    np.testing.assert_allclose(r.head_per_teacher(), [signed[0] + signed[1], signed[2]])
    # a stricter alignment threshold turns the 0.9-cosine copy into a mixed unit
    cos1 = abs(r.cos[1, 0])
    strict = op.unit_roles(Q, R, a, cfg, align=(cos1 + 1) / 2)
    assert strict.role[1] == "mixed"


def test_role_counts_over_an_ensemble():
    ens = op.ode_ensemble(CFG, [0, 1])
    counts = op.role_counts(ens)
    assert set(counts) == {"copy", "mixed", "inactive", "min_copies"}
    np.testing.assert_array_equal(counts["copy"] + counts["mixed"] + counts["inactive"], [3, 3])
    r0 = op.unit_roles(ens.Q[0, -1], ens.R[0, -1], ens.a[0, -1], CFG)
    assert counts["copy"][0] == np.sum(r0.role == "copy")
    assert counts["min_copies"][0] == r0.copies.min()
