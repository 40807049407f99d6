"""Figure cases of the chapter *Generalisation to new tasks* (``book/new_tasks.md``,
:mod:`metarep.studies.new_tasks`)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figure_cases import FigureCase


def _adaptation() -> Figure:
    from metarep.studies.new_tasks import plot_adaptation

    steps = np.arange(6)
    curves = {"meta-learned": 0.02 + 0.3 * 0.3**steps, "random": 0.4 - 0.001 * steps}
    oracles = {"meta-learned": 0.02, "random": 0.39}
    return plot_adaptation(steps, curves, oracles, {"meta-learned": (1, 0.11, 0.004),
                                                    "random": (1, 0.4, 0.006)})


def _few_shot() -> Figure:
    from metarep.studies.new_tasks import FewShot, plot_few_shot

    supports = (2, 5, 20, "inf")
    res = {name: FewShot(supports, np.array(m), np.array([0.004, 0.003, 0.002, 0.001]),
                         np.array([m, m]), np.full((2, 4), 0.003), 1, 1.0)
           for name, m in (("meta-learned", [0.17, 0.11, 0.08, 0.07]),
                           ("multi-task SGD", [0.30, 0.26, 0.24, 0.235]))}
    return plot_few_shot(res, {"meta-learned": 0.07, "multi-task SGD": 0.236})


CASES = [
    FigureCase("new_tasks_adaptation", "metarep.studies.new_tasks.plot_adaptation",
               _adaptation),
    FigureCase("new_tasks_few_shot", "metarep.studies.new_tasks.plot_few_shot", _few_shot),
]
