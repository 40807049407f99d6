"""Figure cases of the chapter *Hyper-parameters* (``book/hyperparameters.md``,
:mod:`metarep.studies.hyperparameters`); data: the closed-form grids of
:func:`helpers.synthetic_grid`."""

from __future__ import annotations

import dataclasses

import numpy as np
from matplotlib.figure import Figure

from figure_cases import FigureCase
from helpers import specializing_run, synthetic_grid


def _hyper(name: str):
    from metarep.studies import hyperparameters

    return getattr(hyperparameters, name)


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
    return _hyper("plot_outer_rate")(line, _hyper("outer_rate_max")(line))


def _hyper_first_order() -> Figure:
    full = synthetic_grid(("eta_in",))
    first = dataclasses.replace(full, eg=full.eg * 1.2, stiffness=full.stiffness * 1.5)
    return _hyper("plot_first_order")(full, first, full.values[0][[1, 3]])


def _hyper_phase_diagram() -> Figure:
    SimPoint = _hyper("SimPoint")
    sims = [SimPoint(1.0, 2.0, specializing_run(n_seeds=2)),
            SimPoint(4.0, 8.0, specializing_run(n_seeds=2, alpha_max=5.0))]
    return _hyper("plot_phase_diagram")(synthetic_grid(), sims)


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
]
