"""Figure cases of the chapter *Hyper-parameters* (``book/hyperparameters.md``,
:mod:`metarep.studies.hyperparameters`); data: the closed-form grids of
:func:`helpers.synthetic_grid` and closed-form plateau maps and protocols."""

from __future__ import annotations

import dataclasses

import numpy as np
from matplotlib.figure import Figure

from figure_cases import FigureCase
from helpers import specializing_run, synthetic_grid


def _hyper(name: str):
    from metarep.studies import hyperparameters

    return getattr(hyperparameters, name)


def _plateaus():
    """A closed-form plateau map on the grid of :func:`helpers.synthetic_grid`: λ changes sign
    along η_in = 4, and there is no plateau where η > 2 and η_in > 2."""
    grid = synthetic_grid()
    eta, eta_in = np.meshgrid(*grid.values, indexing="ij")
    found = ~((eta > 2) & (eta_in > 2))
    rate = np.where(found, 0.1 * np.log(4.0 / eta_in) / (1 + eta), np.nan)
    norm = np.where(found, 1.0 + eta, np.nan)
    y = np.where(found[..., None], np.stack([norm, 0.5 * norm, 0.5 + 0 * eta, 0.8 + 0 * eta],
                                            axis=-1), np.nan)
    return _hyper("PlateauMap")(grid.names, grid.values, rate, norm, found, y, found)


def _hyper_inner_stability() -> Figure:
    rates = np.linspace(0.0, 6.0, 61)
    steps = (1, 2, 4)
    errors = np.array([0.01 + 0.3 * (1 - rates / 2.5) ** (2 * S) for S in steps])
    return _hyper("plot_inner_stability")(rates, errors, steps, 5.0, 0.31)


def _hyper_inner_rate() -> Figure:
    a, b = synthetic_grid(("eta_in",)), synthetic_grid(("eta_in",))
    b = dataclasses.replace(b, label="first-order", eg=b.eg * 1.5)
    return _hyper("plot_inner_rate")([a, b])


def _hyper_outer_rate() -> Figure:
    line = synthetic_grid(("eta",))
    wide = dataclasses.replace(line, values=(line.values[0] * 10,), eg=line.eg * 0.8)
    q = 1.0 / (2.5 - np.minimum(line.values[0], 2.4))
    return _hyper("plot_outer_rate")({1: line, 10: wide}, {1: (2.0, 2.5), 10: (20.0, 25.0)},
                                     {1: (line.values[0], q), 10: (wide.values[0], q)})


def _hyper_first_order() -> Figure:
    full = synthetic_grid(("eta_in",))
    first = dataclasses.replace(full, label="first-order", eg=full.eg * 1.2,
                                stiffness=full.stiffness * 1.5)
    even = dataclasses.replace(full, label="first-order, S = 2", eg=full.eg * 1.1,
                               diverged=np.zeros_like(full.diverged))
    return _hyper("plot_first_order")([full, first, even], [first, even], full.values[0][[1, 3]])


def _hyper_phase_diagram() -> Figure:
    SimPoint = _hyper("SimPoint")
    sims = [SimPoint(1.0, 2.0, specializing_run(n_seeds=2)),
            SimPoint(4.0, 8.0, specializing_run(n_seeds=2, alpha_max=5.0))]
    return _hyper("plot_phase_diagram")(synthetic_grid(), sims, _plateaus())


def _hyper_escape_rate() -> Figure:
    return _hyper("plot_escape_rate")(_plateaus(), synthetic_grid())


def _hyper_protocols() -> Figure:
    Protocol = _hyper("Protocol")
    run = specializing_run()
    knots = np.linspace(0.0, 20.0, 5)
    theory = {"constant": (Protocol.constant(1.0, 2.5, knots), run),
              "schedule": (Protocol(0.9, knots, np.array([3.8, 2.1, 2.8, 3.0, 3.0])),
                           run.replace(eg=run.eg * 0.9))}
    sims = {"schedule": specializing_run(n_seeds=3)}
    return _hyper("plot_protocols")(theory, sims)


CASES = [
    FigureCase("hyper_inner_stability", "metarep.studies.hyperparameters.plot_inner_stability",
               _hyper_inner_stability),
    FigureCase("hyper_inner_rate", "metarep.studies.hyperparameters.plot_inner_rate",
               _hyper_inner_rate),
    FigureCase("hyper_outer_rate", "metarep.studies.hyperparameters.plot_outer_rate",
               _hyper_outer_rate),
    FigureCase("hyper_first_order", "metarep.studies.hyperparameters.plot_first_order",
               _hyper_first_order),
    FigureCase("hyper_phase_diagram", "metarep.studies.hyperparameters.plot_phase_diagram",
               _hyper_phase_diagram),
    FigureCase("hyper_escape_rate", "metarep.studies.hyperparameters.plot_escape_rate",
               _hyper_escape_rate),
    FigureCase("hyper_protocols", "metarep.studies.hyperparameters.plot_protocols",
               _hyper_protocols),
]
