"""Figure cases of the chapter *Variability between tasks* (``book/task_variability.md``,
:mod:`metarep.studies.task_variability`)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figure_cases import FigureCase
from helpers import specializing_run
from metarep.trajectory import Trajectory


def _scan(key: str, values, eta: float = 1.0, scale: float = 1.0):
    """A FinalScan with smooth closed-form values (no integration)."""
    from metarep.studies.task_variability import FinalScan

    x = np.asarray(values, dtype=float)
    return FinalScan(key=key, values=x, eta=eta, eg=scale * (0.03 + 0.4 * x**2 + 0.01 * eta),
                     oracle=scale * (0.01 + 0.38 * x**2), specialization=1.0 - 0.2 * x * eta,
                     alpha_spec=30.0 + 80.0 * x**2, eg_test=scale * (0.05 + 0.3 * x),
                     test_eta_in=1.0, test_steps=1)


def _with_specialization(traj: Trajectory) -> Trajectory:
    return traj.replace(observables={"specialization": traj.specialization()})


def _spread_dynamics() -> Figure:
    from metarep.studies.task_variability import plot_spread_dynamics

    odes = {0.0: _with_specialization(specializing_run()),
            0.3: _with_specialization(specializing_run()).replace(eg=specializing_run().eg + 0.05)}
    sim = specializing_run(n_seeds=3)
    sim = sim.replace(config=sim.config.replace(teacher_spread=0.3))
    return plot_spread_dynamics(odes, {0.0: 0.0, 0.3: 0.04}, sim)


def _spread_floor() -> Figure:
    from metarep.studies.task_variability import plot_spread_floor

    grid = np.linspace(0.0, 0.6, 31)
    scans = [_scan("teacher_spread", np.linspace(0.0, 0.6, 4), eta) for eta in (1.0, 0.3)]
    return plot_spread_floor(scans, grid, 0.38 * grid**2)


def _readout() -> Figure:
    from metarep.studies.task_variability import plot_readout

    run = specializing_run()
    run = run.replace(config=run.config.replace(v_mean=0.0, v_std=1.0))
    odes = {0.0: run.replace(eg=np.full_like(run.eg, 1 / 3)), 1.0: run}
    sims = {0.0: specializing_run(n_seeds=2), 1.0: specializing_run(n_seeds=2)}
    scans = {e: _scan("v_mean", [0.0, 0.5, 1.0, 2.0], scale=1.0 + 5 * (e == 0))
             for e in (0.0, 1.0)}
    return plot_readout(odes, sims, scans)


def _label_noise() -> Figure:
    from metarep.studies.task_variability import plot_label_noise

    return plot_label_noise([_scan("label_noise", [0.0, 0.2, 0.4], eta) for eta in (1.0, 0.5)])


CASES = [
    FigureCase("variability_spread_dynamics",
               "metarep.studies.task_variability.plot_spread_dynamics", _spread_dynamics),
    FigureCase("variability_spread_floor", "metarep.studies.task_variability.plot_spread_floor",
               _spread_floor),
    FigureCase("variability_readout", "metarep.studies.task_variability.plot_readout",
               _readout),
    FigureCase("variability_label_noise", "metarep.studies.task_variability.plot_label_noise",
               _label_noise),
]
