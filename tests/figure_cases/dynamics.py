"""Figure cases of the chapter *Meta-training dynamics* (``book/dynamics.md``,
:mod:`metarep.studies.dynamics`)."""

from __future__ import annotations

from matplotlib.figure import Figure

from figure_cases import FigureCase
from helpers import specializing_run


def _dynamics() -> Figure:
    from metarep.analysis import Phases
    from metarep.studies.dynamics import plot_dynamics

    return plot_dynamics(specializing_run(), specializing_run(n_seeds=3),
                         Phases(escape=3.0, onset=6.0, specialized=11.0, eg_plateau=0.2))


def _overlap_heatmaps() -> Figure:
    from metarep.studies.dynamics import plot_overlap_heatmaps

    return plot_overlap_heatmaps(specializing_run(), [0.0, 8.0, 20.0],
                                 specializing_run(n_seeds=2))


def _specialization_times() -> Figure:
    import numpy as np

    from metarep.studies.dynamics import plot_specialization_times

    t_ode = np.array([22.0, 25.0, 27.5, 24.0, 31.0, 26.0, 35.0, 23.5])
    t_sim = np.array([24.0, 23.0, 29.0, 26.5, 27.0, 25.0, 30.0, 28.0])
    return plot_specialization_times(t_ode, t_sim, 1000)


CASES = [
    FigureCase("dynamics", "metarep.studies.dynamics.plot_dynamics", _dynamics),
    FigureCase("dynamics_heatmaps", "metarep.studies.dynamics.plot_overlap_heatmaps",
               _overlap_heatmaps),
    FigureCase("dynamics_specialization_times",
               "metarep.studies.dynamics.plot_specialization_times", _specialization_times),
]
