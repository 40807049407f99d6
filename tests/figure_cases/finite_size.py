"""Figure cases of the chapter *Finite-size effects* (``book/finite_size.md``,
:mod:`metarep.studies.finite_size`); data: closed-form logistic runs."""

from __future__ import annotations

import numpy as np

from figure_cases import FigureCase


def _finite_size(ode_specializes: bool = True):
    from metarep.studies.finite_size import FiniteSize

    N = np.array([125.0, 350.0, 1000.0])
    alpha = np.linspace(0.0, 20.0, 41)
    shifts = [np.array([8.0, 9.0, 10.0]) + 1.5 * np.log(n / 125.0) for n in N]
    spec = [1 / (1 + np.exp(-(alpha[None] - t[:, None]))) for t in shifts]
    curves = [np.exp(alpha / 10) / np.sqrt(n) for n in N]
    dev = 0.3 / np.sqrt(N)
    t_ode = [t + 0.5 if ode_specializes else np.full(3, np.inf) for t in shifts]
    return FiniteSize(N, alpha, 5.0, curves, dev, 0.1 * dev, shifts, t_ode, spec,
                      [s * 0.9 if ode_specializes else 0 * s for s in spec])


def _plot(name: str, ode_specializes: bool):
    def draw():
        from metarep.studies import finite_size

        return getattr(finite_size, name)(_finite_size(ode_specializes))
    return draw


CASES = [
    FigureCase("finite_size_runs", "metarep.studies.finite_size.plot_finite_size_runs",
               _plot("plot_finite_size_runs", False)),
    FigureCase("finite_size_scaling", "metarep.studies.finite_size.plot_finite_size_scaling",
               _plot("plot_finite_size_scaling", True)),
    FigureCase("finite_size_scaling_symmetric",
               "metarep.studies.finite_size.plot_finite_size_scaling",
               _plot("plot_finite_size_scaling", False)),
]
