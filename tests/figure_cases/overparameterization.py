"""Figure cases of the chapter *Over-parameterization* (``book/overparameterization.md``,
:mod:`metarep.studies.overparameterization`)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figure_cases import FigureCase
from helpers import specializing_run
from metarep.trajectory import Trajectory


def overparam_runs(K: int, n_seeds: int = 3) -> Trajectory:
    """Closed-form ODE runs of width K (M = 2) with a seed axis, shaped like
    :func:`helpers.specializing_run`, the switch of the observable ``specialization`` shifted
    by the seed; ``eg_oracle`` is 0.8 × the error (the observables of
    :func:`metarep.ode.integrate_seeds`)."""
    runs = [specializing_run(K=K, M=2, alpha_max=40.0) for _ in range(n_seeds)]
    shift = np.arange(n_seeds)[:, None]
    alpha = runs[0].alpha
    spec = 1.0 / (1.0 + np.exp(-(alpha[None] - 12.0 - 2.0 * shift - K)))
    eg = 0.001 * K + 0.1 * (1 - spec)
    stack = lambda name: np.stack([getattr(r, name) for r in runs])  # noqa: E731
    return Trajectory(alpha, stack("Q"), stack("R"), stack("a"), eg,
                      observables={"specialization": spec, "eg_oracle": 0.8 * eg},
                      seeds=np.arange(n_seeds), config=runs[0].config.replace(K=K),
                      T=np.eye(2))


def _overparam_dynamics() -> Figure:
    from metarep.studies.overparameterization import plot_width_dynamics

    runs = [overparam_runs(K) for K in (2, 4)]
    sim = specializing_run(n_seeds=2, K=4, M=2, alpha_max=40.0, records=21)
    return plot_width_dynamics(runs, sim, runs[1].select([0, 1]))


def _overparam_roles() -> Figure:
    from metarep.studies.overparameterization import UnitRoles, plot_unit_roles

    cos = np.array([[0.99, 0.05], [-0.95, 0.1], [0.3, 0.6], [0.02, 0.98]])
    roles = UnitRoles(cos, np.array([1.0, 0.8, 0.05, 1.1]), np.array([0, 0, 1, 1]),
                      np.array([1.0, -1.0, 1.0, 1.0]), np.array([0.5, -0.4, 0.02, 0.9]),
                      np.array([0.3, 0.2, 0.005, 0.495]),
                      np.array(["copy", "copy", "inactive", "copy"]))
    return plot_unit_roles([roles, roles])


def _overparam_width() -> Figure:
    from metarep.studies.overparameterization import plot_width_dependence

    return plot_width_dependence([overparam_runs(K) for K in (2, 4, 6)])


def _overparam_long() -> Figure:
    from metarep.studies.overparameterization import plot_long_run

    runs = [overparam_runs(K) for K in (2, 4)]
    more = [r.replace(alpha=np.geomspace(50.0, 500.0, 8), Q=r.Q[:, -8:], R=r.R[:, -8:],
                      a=r.a[:, -8:], eg=r.eg[:, -1:] * np.geomspace(1.0, 0.1, 8)[None],
                      observables={}) for r in runs]
    return plot_long_run(runs, more)


CASES = [
    FigureCase("overparam_dynamics",
               "metarep.studies.overparameterization.plot_width_dynamics", _overparam_dynamics),
    FigureCase("overparam_roles", "metarep.studies.overparameterization.plot_unit_roles",
               _overparam_roles),
    FigureCase("overparam_width",
               "metarep.studies.overparameterization.plot_width_dependence", _overparam_width),
    FigureCase("overparam_long", "metarep.studies.overparameterization.plot_long_run",
               _overparam_long),
]
