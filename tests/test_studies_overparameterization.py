"""Unit tests of metarep.studies.overparameterization (chapter "Over-parameterization")."""

import numpy as np
import pytest

from metarep import metaloss, ode
from metarep.analysis import specialization_time
from metarep.config import Config
from metarep.studies import overparameterization as op

CFG = Config(K=3, M=2, N=200, eta=1.0, eta_in=2.0, eta_head=1.0, inner_steps=1, v_mean=1.0,
             v_std=0.5, alpha_max=2.0, record_every=1.0, dt=0.05)


@pytest.fixture(scope="module")
def runs():
    """The ODE of width K = 3 > M = 2 from the initial states of seeds 0 and 3."""
    return ode.integrate_seeds(CFG, [0, 3])


def test_t_spec_is_the_specialization_time_of_each_seed(runs):
    """t_spec: the interpolated time at which each seed's run reaches specialization index
    ½ (∞ if not by α_max) — the ODE's ``specialization`` observable."""
    assert runs.K == 3 and runs.M == 2 and runs.eg.shape == (2, 3)
    assert runs.Q.shape == (2, 3, 3, 3) and set(runs.observables) >= {"specialization",
                                                                      "eg_oracle"}
    t = op.t_spec(runs)
    assert t.shape == (2,)
    np.testing.assert_array_equal(
        t, specialization_time(runs.alpha, runs.observables["specialization"]))
    np.testing.assert_allclose(runs.observables["specialization"], runs.specialization(),
                               rtol=1e-10, atol=1e-14)
    # a run switching from 0 to 1 between α = 4 and 5 crosses ½ at 4.5; one never switching: ∞
    s = np.array([[0.0] * 5 + [1.0] * 6, [0.1] * 11])
    sw = runs.replace(alpha=np.arange(11.0), Q=np.zeros((2, 11, 3, 3)), R=np.zeros((2, 11, 3, 2)),
                      a=np.zeros((2, 11, 3)), eg=np.ones((2, 11)),
                      observables={"specialization": s})
    np.testing.assert_array_equal(op.t_spec(sw), [4.5, np.inf])
    sub = runs.select([3])
    np.testing.assert_array_equal(sub.eg[0], runs.eg[1])
    assert sub.T.shape in ((2, 2), (1, 2, 2))


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


def test_role_counts_over_seeds(runs):
    ens = runs
    counts = op.role_counts(ens)
    assert set(counts) == {"copy", "mixed", "inactive", "min_copies"}
    np.testing.assert_array_equal(counts["copy"] + counts["mixed"] + counts["inactive"], [3, 3])
    r0 = op.unit_roles(ens.Q[0, -1], ens.R[0, -1], ens.a[0, -1], CFG, ens.T[0])
    assert counts["copy"][0] == np.sum(r0.role == "copy")
    assert counts["min_copies"][0] == r0.copies.min()


def test_role_counts_use_each_seeds_teacher(runs):
    """With per-seed teacher overlaps (a Gaussian teacher), seed i's units are classified with
    its own T."""
    T = np.stack([np.eye(2), np.diag([4.0, 0.25])])
    per_seed = runs.replace(T=T)
    counts = op.role_counts(per_seed)
    for i in range(2):
        r = op.unit_roles(runs.Q[i, -1], runs.R[i, -1], runs.a[i, -1], CFG, T[i])
        assert counts["copy"][i] == np.sum(r.role == "copy")
        assert counts["inactive"][i] == np.sum(r.role == "inactive")
        assert counts["min_copies"][i] == r.copies.min()
