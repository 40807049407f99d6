"""Figure cases of the chapter *The meta-loss and the ODEs* (``book/odes.md``): the on-screen
checks of the drift's ingredients (:mod:`metarep.studies.odes`)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figure_cases import FigureCase


def _checks() -> Figure:
    from metarep.analysis import agreement
    from metarep.studies.odes import DerivativeCheck, TaskAverageCheck, plot_checks

    h = 1e-2 / 2.0 ** np.arange(5)
    scale = np.array([1.0, 0.2, 0.0, 0.4, 0.06])[:, None]
    deviation = 1e-4 * scale * (h / h[0]) ** 2 + 1e-14
    richardson = 2e-9 * scale * (h[1:] / h[1]) ** 4 + 1e-13
    deriv = DerivativeCheck(("A", "G", "dF/da", "A, first order", "G, first order"), h,
                            deviation, richardson)
    rng = np.random.default_rng(0)
    closed = np.array([0.65, 0.04, -0.05, 0.12])
    samples = closed + np.array([0.3, 0.05, 0.05, 0.1]) * rng.standard_normal((400, 4))
    avg = TaskAverageCheck(("F", "Phi_0_0", "Phi_0_1", "Phi_1_1"), closed, samples,
                           agreement(samples, closed))
    return plot_checks(deriv, avg, z_band=3.5)


CASES = [FigureCase("odes_checks", "metarep.studies.odes.plot_checks", _checks)]
