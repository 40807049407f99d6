"""Figure cases of the chapter *Few-shot meta-training* (``book/few_shot.md``,
:mod:`metarep.studies.few_shot`)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figure_cases import FigureCase


def _verification() -> Figure:
    from metarep.studies.few_shot import plot_verification

    P = np.array([1, 3, 10, 30])
    theory = 0.29 + 0.034 / P
    return plot_verification(P, theory, theory + np.array([0.001, -0.0005, -0.0015, 0.0018]),
                             np.array([0.0024, 0.0019, 0.0017, 0.0011]), 0.29)


def _trajectories() -> Figure:
    from metarep.studies.few_shot import plot_trajectories

    alpha = np.linspace(0.0, 20.0, 41)
    eg, spec = {}, {}
    for name, rate, floor in (("$P = 3$", 0.3, 0.17), (r"$P = \infty$", 0.5, 0.1)):
        eg[name] = floor + (0.42 - floor) * np.exp(-rate * alpha)
        spec[name] = 1.0 - 0.94 * np.exp(-rate * alpha)
    return plot_trajectories(alpha, eg, spec)


def _rates() -> Figure:
    from metarep.studies.few_shot import plot_rates

    eta = np.array([0.5, 1.0, 1.5, 2.0, 3.0])
    final = {"$P = 3$": np.array([0.23, 0.17, 0.24, 0.85, np.nan]),
             r"$P = \infty$": np.array([0.21, 0.1, 0.03, 0.01, 0.16])}
    return plot_rates(eta, final, {"$P = 3$": (1.0, 0.17), r"$P = \infty$": (2.0, 0.01)})


def _steps() -> Figure:
    from metarep.studies.few_shot import plot_steps

    steps = np.array([0, 1, 2, 4, 8, 16])
    errors = {"$P = 3$": np.array([0.36, 0.27, 0.24, 0.23, 0.24, 0.26]),
              r"$P = \infty$": np.array([0.36, 0.25, 0.19, 0.15, 0.142, 0.141])}
    return plot_steps(steps, errors, {"$P = 3$": (4, 0.23), r"$P = \infty$": (16, 0.141)})


def _transfer() -> Figure:
    from metarep.studies.few_shot import plot_transfer

    supports = [3, 10, "inf"]
    errors = np.array([[0.174, 0.142, 0.129], [0.152, 0.119, 0.105], [0.147, 0.113, 0.099]])
    return plot_transfer(supports, supports, errors)


CASES = [
    FigureCase("few_shot_verification", "metarep.studies.few_shot.plot_verification",
               _verification),
    FigureCase("few_shot_trajectories", "metarep.studies.few_shot.plot_trajectories",
               _trajectories),
    FigureCase("few_shot_rates", "metarep.studies.few_shot.plot_rates", _rates),
    FigureCase("few_shot_steps", "metarep.studies.few_shot.plot_steps", _steps),
    FigureCase("few_shot_transfer", "metarep.studies.few_shot.plot_transfer", _transfer),
]
