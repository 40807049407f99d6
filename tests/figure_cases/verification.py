"""Figure cases of the chapter *Does the theory hold?* (``book/verification.md``,
:mod:`metarep.studies.verification`); data: fixed arrays and the closed-form runs of
:func:`helpers.specializing_run`."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figure_cases import FigureCase
from helpers import specializing_run


def _verif(name: str):
    from metarep.studies import verification

    return getattr(verification, name)


def _drift() -> Figure:
    from metarep.linear import coordinate_names

    DC = _verif("DriftComparison")
    names = coordinate_names(2, 2)
    theory = np.linspace(-0.4, 0.6, len(names))
    sem = 0.01 + 0.002 * np.arange(len(names))
    wiggle = np.sin(np.arange(len(names)))
    return _verif("plot_drift")([DC(names, theory, theory + 1.5 * sem * wiggle, sem, 1000, "full"),
                                 DC(names, -theory, -theory + sem * wiggle, sem, 1000, "first")])


def _trajectories() -> Figure:
    return _verif("plot_trajectories")(specializing_run(),
                                       {500: specializing_run(n_seeds=3),
                                        2000: specializing_run(n_seeds=4)})


def _deviation() -> Figure:
    N = np.array([250.0, 700.0, 2000.0])
    rms = 0.25 / np.sqrt(N) * np.array([1.0, 1.1, 0.95])
    return _verif("plot_deviation")(_verif("Deviation")(N, rms, 0.08 * rms, 0.1 * rms,
                                                        0.01 * rms))


def _bias_law() -> Figure:
    from metarep.analysis import size_fit

    N = (250, 700, 2000)
    alpha = np.linspace(0.5, 4.0, 8)
    wiggle = np.array([[1.0, -1.0, 0.5, -0.5]]).T                   # 4 seeds, mean 0
    dev = {n: (0.4 * np.sin(alpha) + 0.3 * wiggle * np.sqrt(n / 250)) / n for n in N}
    fit = size_fit(dev)
    remainder = size_fit({n: n * d for n, d in dev.items()})
    return _verif("plot_bias_law")(_verif("BiasLaw")(np.array(N, dtype=float), alpha, fit,
                                                     remainder))


CASES = [
    FigureCase("verification_drift", "metarep.studies.verification.plot_drift", _drift),
    FigureCase("verification_trajectories", "metarep.studies.verification.plot_trajectories",
               _trajectories),
    FigureCase("verification_deviation", "metarep.studies.verification.plot_deviation",
               _deviation),
    FigureCase("verification_bias_law", "metarep.studies.verification.plot_bias_law",
               _bias_law),
]
