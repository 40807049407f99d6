"""Figure cases of the chapter *The scenario* (``book/scenario.md``): the scenario diagram
and the overview figure of the command line (:mod:`metarep.plotting`)."""

from __future__ import annotations

from matplotlib.figure import Figure

from figure_cases import FigureCase
from helpers import specializing_run


def _overview_theory_and_simulation() -> Figure:
    from metarep.plotting import plot_overview

    return plot_overview(specializing_run(), specializing_run(n_seeds=4))


def _overview_simulation_only() -> Figure:
    from metarep.plotting import plot_overview

    return plot_overview(sim=specializing_run(n_seeds=3, K=3, M=2))


def _scenario_diagram() -> Figure:
    from metarep.diagrams import plot_scenario_diagram

    return plot_scenario_diagram(K=3, M=2)


CASES = [
    FigureCase("scenario_diagram", "metarep.diagrams.plot_scenario_diagram", _scenario_diagram),
    FigureCase("overview", "metarep.plotting.plot_overview", _overview_theory_and_simulation),
    FigureCase("overview_sim_only", "metarep.plotting.plot_overview",
               _overview_simulation_only),
]
