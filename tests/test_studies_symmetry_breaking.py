"""metarep.studies.symmetry_breaking: the relaxed plateau, the escape law from a controlled
perturbation along the leading odd mode, and the ODE from random finite-N initial states.
(State vectors, the fixed point and the modes themselves: tests/test_linear.py; the line
fits: tests/test_analysis.py.)"""

import numpy as np
import pytest

from metarep import ode
from metarep.analysis import fit_line, specialization_time
from metarep.config import Config
from metarep.initial import initial_order_parameters
from metarep.linear import modes
from metarep.studies import symmetry_breaking as sym


def test_plateau_fixed_point_and_escape_law():
    """The plateau relaxed inside the teacher-symmetric subspace is a fixed point there; its
    leading odd mode grows at the predicted rate in the nonlinear ODE (linear regime), and
    the escape time follows (1/λ) ln(1/δ) to 2 %."""
    cfg = Config(eta_in=2.0, dt=0.05)
    guess = (np.array([[1.0, 0.6], [0.6, 0.5]]), np.array([[0.7, 0.7], [0.45, 0.45]]),
             np.array([0.25, 0.1]))
    fp = sym.relaxed_plateau(cfg, guess, relax=600.0)
    assert fp.residual < 1e-9
    np.testing.assert_allclose(fp.R[:, 0], fp.R[:, 1], rtol=1e-12)
    md = modes(fp.J, 2, 2, True)
    assert md.rate > 0 and md.odd[md.lead]
    deltas = np.array([1e-7, 1e-6, 1e-5, 1e-4])
    scan = sym.escape_scan(cfg, fp, md, deltas, np.linspace(0.0, 150.0, 151))
    assert scan.breaking.shape == scan.s.shape == scan.eg.shape == (4, 151)
    np.testing.assert_array_equal(scan.t_spec, specialization_time(scan.alpha, scan.s))
    # growth in the linear regime (breaking < 1e-3): log-slope = λ
    i, j = 20, 60
    assert scan.breaking[0, j] < 1e-3
    rate = np.log(scan.breaking[0, j] / scan.breaking[0, i]) / (scan.alpha[j] - scan.alpha[i])
    assert rate == pytest.approx(md.rate, rel=1e-2)
    slope, _, _ = fit_line(np.log(1 / deltas), scan.t_spec)
    assert slope == pytest.approx(1 / md.rate, rel=0.02)


@pytest.mark.parametrize("teacher", ["orthogonal", "gaussian"])
def test_size_scan_ode_runs_each_initial_state(teacher):
    """Entry (N, seed) is the ODE from the random initial overlaps of that N and seed —
    with that seed's teacher overlaps — and its specialization time (∞ if not reached); the
    returned trajectory is the first seed's run at the largest N."""
    cfg = Config(teacher=teacher, dt=0.05)
    Ns, seeds = [50, 400], [0, 1]
    alphas = np.linspace(0.0, 3.0, 4)
    t, one = sym.size_scan_ode(cfg, Ns, seeds, alphas)
    assert t.shape == (2, 2)
    for i, n in enumerate(Ns):
        for j, s in enumerate(seeds):
            c = cfg.replace(N=n, seed=s)
            ref = ode.integrate(c, alphas)
            if (i, j) == (1, 0):
                np.testing.assert_allclose(one.eg, ref.eg, rtol=1e-12)
                np.testing.assert_allclose(one.T, initial_order_parameters(c).T, rtol=1e-15)
            np.testing.assert_array_equal(
                t[i, j], specialization_time(ref.alpha, ref.observables["specialization"]))
