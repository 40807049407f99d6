"""metarep.studies.symmetry_breaking: the relaxed plateau, the escape law from a controlled
perturbation along the leading odd mode, the ODE from random finite-N initial states and the
odd-rate analysis along its runs. (State vectors, the fixed point, the modes and the odd
block themselves: tests/test_linear.py; the line fits: tests/test_analysis.py.)"""

import numpy as np
import pytest

from metarep import ode
from metarep.analysis import fit_line, specialization_time
from metarep.config import Config
from metarep.initial import initial_order_parameters
from metarep.linear import modes, odd_coordinates
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
    with that seed's teacher overlaps — and its specialization time (∞ if not reached)."""
    cfg = Config(teacher=teacher, dt=0.05)
    Ns, seeds = [50, 400], [0, 1]
    alphas = np.linspace(0.0, 3.0, 4)
    scan = sym.size_scan_ode(cfg, Ns, seeds, alphas)
    assert scan.t_spec.shape == (2, 2) and scan.R.shape == (2, 2, 4, 2, 2)
    for i, n in enumerate(Ns):
        for j, s in enumerate(seeds):
            ref = ode.integrate(cfg.replace(N=n, seed=s), alphas)
            np.testing.assert_allclose(scan.Q[i, j], ref.Q, rtol=1e-12)
            np.testing.assert_allclose(scan.s[i, j], ref.observables["specialization"],
                                       rtol=1e-12)
            np.testing.assert_array_equal(
                scan.t_spec[i, j], specialization_time(ref.alpha,
                                                       ref.observables["specialization"]))


def test_a_seed_draws_the_same_odd_direction_at_every_N():
    """The initial odd part of a seed scales exactly like N^(-1/2) (same normals at every N)."""
    cfg = Config(dt=0.05)
    odd = [np.linalg.norm(odd_coordinates(initial_order_parameters(cfg.replace(N=n)).R, 2, 2))
           * np.sqrt(n) for n in (250, 4000, 64000)]
    np.testing.assert_allclose(odd, odd[0], rtol=1e-12)


def test_relaxed_plateau_reflects_units_to_positive_overlaps():
    """From a guess with negative overlaps the relaxed plateau is the reflected one: the same
    escape rate, R > 0."""
    cfg = Config(eta_in=2.0, dt=0.05)
    guess = (np.array([[1.0, 0.6], [0.6, 0.5]]), np.array([[0.7, 0.7], [0.45, 0.45]]),
             np.array([0.25, 0.1]))
    flipped = (guess[0], -guess[1], -guess[2])
    a, b = (sym.relaxed_plateau(cfg, g, relax=300.0) for g in (guess, flipped))
    assert np.all(b.R > 0)
    np.testing.assert_allclose(b.R, a.R, rtol=1e-8)
    assert b.escape_rate == pytest.approx(a.escape_rate, rel=1e-10)


def test_linear_window_selects_the_linear_regime():
    alpha = np.arange(50.0)
    breaking = 1e-6 * np.exp(0.3 * alpha)
    win = sym.linear_window(alpha, breaking, 1e-6, rise=10.0, top=1e-3)
    assert breaking[win].min() >= 1e-5 and breaking[win].max() <= 1e-3
    assert list(win) == list(range(win[0], win[-1] + 1))


def test_odd_rates_bookkeeping_on_a_small_scan():
    """On a small scan: the variational equation reproduces every run's odd part below the
    level to second order in it; the per-seed slope equals 1/(2λ̄) up to exactly the recorded
    adiabatic and path departures (2(adiabatic + path)/ln(N_max/N_min) relative, the
    remainder being the linearisation); the predicted slope is 1/(2λ̄)."""
    cfg = Config(eta_in=2.0, dt=0.05)
    Ns, level = [1000, 16000], 0.1
    alphas = np.concatenate([np.arange(0.0, 10.0, 0.05), np.arange(10.0, 60.0 + 1e-9, 0.25)])
    scan = sym.size_scan_ode(cfg, Ns, [0, 3], alphas)
    odd = sym.odd_rates(cfg, scan, level)
    assert odd.rate.shape[:2] == (2, 2) and odd.window.shape == (2, 2)
    assert np.nanmax(odd.linear_error) < level**2
    np.testing.assert_allclose(odd.predicted, 0.5 / odd.mean_rate)
    np.testing.assert_allclose(odd.window[:, 0], odd.t_level[0])
    span = np.log(Ns[-1] / Ns[0])
    expected = 1 - 2 * (odd.adiabatic + odd.path) / span
    np.testing.assert_allclose(odd.slope * 2 * odd.mean_rate, expected, atol=2 * level**2)
    assert np.all(np.abs(odd.adiabatic) <= 2 * odd.adiabatic_parameter)
    # NaN after each run's crossing
    after = odd.alpha[None, None, :] > odd.t_level[..., None]
    assert np.isnan(odd.rate[after]).all() and np.isfinite(odd.rate[~after]).all()


def test_norm_spread_of_the_largest_N_runs():
    """Relative spread of the norms Q_kk of each seed's largest-N run, the spread linearly
    interpolated between records."""
    alpha = np.array([0.0, 1.0, 2.0])
    Q = np.zeros((2, 2, 3, 2, 2))
    Q[..., 0, 0], Q[..., 1, 1] = 1.0, 1.0                    # equal units everywhere …
    Q[-1, 1, :, 1, 1] = [1.0, 3.0, 5.0]                       # … but seed 1 at the largest N
    zeros = np.zeros((2, 2, 3))
    scan = sym.SizeScan(np.array([10, 20]), np.array([0, 1]), alpha, Q,
                        np.zeros((2, 2, 3, 2, 2)), np.zeros((2, 2, 3, 2)), zeros,
                        np.zeros((2, 2)))
    np.testing.assert_allclose(sym.norm_spread(scan, [1.0, 1.5]), [0.0, 0.5 * (1.0 + 4.0 / 3.0)])
