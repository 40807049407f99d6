"""Figure cases of the chapter *Why the plateau ends: symmetry breaking*
(``book/symmetry_breaking.md``, :mod:`metarep.studies.symmetry_breaking`)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figure_cases import FigureCase


def _symmetry_modes():
    """Synthetic spectrum of K = M = 2 with a learned head (9 coordinates): one odd unstable
    mode δR ∝ [[1, −1], [−1, 1]], one odd stable mode, the rest even."""
    from metarep.linear import Modes

    ev = np.array([0.12, -0.01, -0.02, -0.05, -0.1, -0.2, -0.3, -0.4, -0.5])
    V = np.eye(9)
    V[:, 0] = [0, 0, 0, 0.5, -0.5, -0.5, 0.5, 0, 0]
    odd = np.zeros(9, dtype=bool)
    odd[[0, 7]] = True
    return Modes(ev, V, odd, 0.12, 0)


def _symmetry_spectrum() -> Figure:
    from metarep.studies.symmetry_breaking import plot_spectrum

    return plot_spectrum(_symmetry_modes(), 2, 2, True)


def _symmetry_escape() -> Figure:
    from metarep.studies.symmetry_breaking import EscapeScan, plot_escape

    deltas = np.logspace(-6, -1, 6)
    alpha = np.linspace(0.0, 150.0, 151)
    rate = 0.1
    breaking = np.minimum(deltas[:, None] * np.exp(rate * alpha), 1.0)
    t_spec = np.log(1 / deltas) / rate + 5.0
    s = 1 / (1 + np.exp(-(alpha - t_spec[:, None])))
    return plot_escape(EscapeScan(deltas, alpha, breaking, s, 0.1 * (1 - s), t_spec), rate, 5.0)


def _symmetry_size_scaling() -> Figure:
    from metarep.studies.symmetry_breaking import plot_size_scaling

    Ns = [250, 1000, 4000]
    t_ode = np.array([[20.0, 22.0, 25.0, 23.0], [26.0, 24.0, 29.0, 27.0], [30.0, 28.0, 33.0, 31.0]])
    t_sim = ([250, 1000], np.array([[21.0, 26.0, 24.0], [25.0, 30.0, 27.0]]))
    lines = [(0.2, -7.0, "slope 1/(2·0.2)"), (0.12, -22.0, "slope 1/(2·0.12)")]
    return plot_size_scaling(Ns, t_ode, t_sim, lines)


def _symmetry_odd_rates() -> Figure:
    """Closed-form OddRates of 2 sizes × 3 seeds: rates decaying from 0.21 towards 0.12,
    runs ending at later times for the larger N."""
    from metarep.studies.symmetry_breaking import OddRates, plot_odd_rates

    alpha = np.linspace(0.0, 40.0, 81)
    base = 0.12 + 0.09 * np.exp(-alpha / 60.0) * (1 - np.exp(-alpha / 2.0))
    ends = np.array([[15.0, 18.0, 22.0], [28.0, 31.0, 36.0]])
    rate = np.stack([[np.where(alpha <= e, base - 0.01 * j, np.nan) for j, e in enumerate(row)]
                     for row in ends])
    predicted = np.array([2.4, 2.5, 2.7])
    nothing = np.zeros(3)
    return plot_odd_rates(OddRates(0.1, alpha, rate, rate, rate, rate, ends, nothing,
                                   ends.T.copy(), 0.5 / predicted, predicted,
                                   predicted * np.array([1.01, 0.99, 1.0]), nothing, nothing,
                                   nothing), [250, 64000], 0.119,
                          predicted * np.array([1.05, 1.04, 1.06]))


CASES = [
    FigureCase("symmetry_spectrum", "metarep.studies.symmetry_breaking.plot_spectrum",
               _symmetry_spectrum),
    FigureCase("symmetry_escape", "metarep.studies.symmetry_breaking.plot_escape",
               _symmetry_escape),
    FigureCase("symmetry_size_scaling", "metarep.studies.symmetry_breaking.plot_size_scaling",
               _symmetry_size_scaling),
    FigureCase("symmetry_odd_rates", "metarep.studies.symmetry_breaking.plot_odd_rates",
               _symmetry_odd_rates),
]
