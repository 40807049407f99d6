"""metarep.studies.symmetry: coordinates, the plateau fixed point in the teacher-symmetric
subspace, its odd modes, the escape law and the fits."""

import numpy as np
import pytest

from metarep.config import Config
from metarep.studies import symmetry as sym


def test_state_vector_round_trip():
    Q = np.array([[1.0, 0.3], [0.3, 2.0]])
    R = np.array([[0.1, 0.2], [0.3, 0.4]])
    a = np.array([0.5, -0.5])
    for learn in (True, False):
        x = sym.state_vector(Q, R, a, learn)
        assert x.shape == (3 + 4 + 2 * learn,)
        Q2, R2, a2 = sym.state_from_vector(x, 2, 2, a, learn)
        np.testing.assert_array_equal(Q2, Q)
        np.testing.assert_array_equal(R2, R)
        np.testing.assert_array_equal(a2, a)


def test_symmetry_breaking_distance():
    assert sym.symmetry_breaking(np.outer([0.3, -0.7], [1.0, 1.0])) == 0.0
    # R = [[1, 0], [0, 1]]: row means ½, deviations ±½ → norm √(4·¼) = 1
    assert sym.symmetry_breaking(np.eye(2)) == pytest.approx(1.0)


def test_fit_log_law():
    x = np.linspace(0, 10, 6)
    t = 3.0 * x + 2.0
    t[2] = np.nan
    assert sym.fit_log_law(x, t) == pytest.approx((3.0, 2.0))
    assert sym.fit_log_law(x, t, slope=3.0) == pytest.approx((3.0, 2.0))


def test_fit_group_means_recovers_line_and_error():
    """Exact means on a line; the slope's s.e. equals the textbook weighted formula."""
    x = np.array([0.0, 1.0, 2.0])
    dev = np.array([-1.0, 0.0, 1.0])                  # sample std 1, sem 1/√3 per group
    samples = (2.0 * x + 1.0)[:, None] + dev[None, :]
    slope, se, c = sym.fit_group_means(x, samples)
    assert (slope, c) == pytest.approx((2.0, 1.0))
    assert se == pytest.approx(np.sqrt((1 / 3) / 2.0))  # σ²/Σ(x − x̄)²


def test_modes_classifies_parity():
    """J built from known eigenvectors: two odd (δR ∝ [[1, −1], [−1, 1]] growing, δR ∝
    [[1, −1], [1, −1]] decaying), seven even."""
    odd = np.array([0, 0, 0, 0.5, -0.5, -0.5, 0.5, 0, 0])
    odd2 = np.array([0, 0, 0, 0.5, -0.5, 0.5, -0.5, 0, 0])
    rng = np.random.default_rng(0)
    even = rng.standard_normal((9, 7))
    # make the even vectors even: R part with equal columns
    for v in even.T:
        r = v[3:7].reshape(2, 2)
        v[3:7] = np.outer(r.mean(axis=1), [1, 1]).ravel()
    V = np.column_stack([odd, even, odd2])
    ev = np.array([0.05, 0.2, -0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7])
    J = V @ np.diag(ev) @ np.linalg.inv(V)
    md = sym.modes(J, 2, 2, True)
    assert md.eigenvalues[0].real == pytest.approx(0.2)      # sorted, an even mode leads
    assert md.odd.sum() == 2 and md.rate == pytest.approx(0.05)
    assert abs(abs(md.vectors[:, md.lead] @ odd) - 1) < 1e-10


def test_plateau_fixed_point_and_escape_law():
    """Newton finds a fixed point in the teacher-symmetric subspace; its leading odd mode
    grows at the predicted rate in the nonlinear ODE (linear regime), and the escape time
    follows (1/λ) ln(1/δ) to 2 %."""
    cfg = Config(eta_in=2.0, dt=0.05)
    guess = (np.array([[1.0, 0.6], [0.6, 0.5]]), np.array([[0.7, 0.7], [0.45, 0.45]]),
             np.array([0.25, 0.1]))
    fp = sym.plateau_fixed_point(cfg, guess, relax=600.0)
    assert fp.residual < 1e-9
    np.testing.assert_allclose(fp.R[:, 0], fp.R[:, 1], rtol=1e-12)
    md = sym.modes(fp.J, 2, 2, True)
    assert md.rate > 0 and md.odd[md.lead]
    deltas = np.array([1e-7, 1e-6, 1e-5, 1e-4])
    scan = sym.escape_scan(cfg, fp, md, deltas, np.linspace(0.0, 150.0, 151))
    # growth in the linear regime (breaking < 1e-3): log-slope = λ
    i, j = 20, 60
    assert scan.breaking[0, j] < 1e-3
    rate = np.log(scan.breaking[0, j] / scan.breaking[0, i]) / (scan.alpha[j] - scan.alpha[i])
    assert rate == pytest.approx(md.rate, rel=1e-2)
    slope, _ = sym.fit_log_law(np.log(1 / deltas), scan.t_spec)
    assert slope == pytest.approx(1 / md.rate, rel=0.02)
