"""Figure cases of the chapter *Finite-size effects* (``book/finite_size.md``,
:mod:`metarep.studies.finite_size`); data: closed-form logistic runs."""

from __future__ import annotations

import numpy as np

from figure_cases import FigureCase


def _finite_size(ode_specializes: bool = True):
    from metarep.studies.finite_size import FiniteSize

    N = np.array([125.0, 350.0, 1000.0])
    alpha = np.linspace(0.0, 20.0, 41)
    shifts = [np.array([8.0, 9.0, 10.0]) + 1.5 * np.log(n / 125.0) for n in N]
    spec = [1 / (1 + np.exp(-(alpha[None] - t[:, None]))) for t in shifts]
    curves = [np.exp(alpha / 10) / np.sqrt(n) for n in N]
    dev = 0.3 / np.sqrt(N)
    t_ode = [t + 0.5 if ode_specializes else np.full(3, np.inf) for t in shifts]
    return FiniteSize(N, alpha, 5.0, curves, dev, 0.1 * dev, shifts, t_ode, spec,
                      [s * 0.9 if ode_specializes else 0 * s for s in spec])


def _plot(name: str, ode_specializes: bool):
    def draw():
        from metarep.studies import finite_size

        return getattr(finite_size, name)(_finite_size(ode_specializes))
    return draw


def _convergence(label: str, scale: float):
    from metarep.studies.finite_size import Convergence

    N = np.array([500.0, 1000.0, 2000.0, 4000.0, 8000.0])
    alpha = np.linspace(0.0, 5.0, 21)
    eg = 0.06 + 0.08 * np.exp(-alpha)
    wiggle = np.array([[1.0], [-1.0], [0.5], [-0.5]])               # 4 runs, mean 0
    eg_sim = [eg + scale * wiggle * np.sin(alpha) / np.sqrt(n) for n in N]
    t_sim = [3.0 + 10 * scale * wiggle[:, 0] / np.sqrt(n) for n in N]
    return Convergence(label, N, alpha, eg, 3.0, eg_sim, t_sim)


def _plot_convergence():
    from metarep.studies.finite_size import plot_convergence

    return plot_convergence([_convergence("point A", 0.1), _convergence("point B", 0.4)])


def _plot_sensitivity():
    from metarep.studies.finite_size import plot_sensitivity
    from metarep.trajectory import Trajectory

    alpha = np.linspace(0.0, 10.0, 11)
    amps = {"symmetric start": (alpha, np.exp(alpha)), "start of order one": (alpha, 1 + alpha)}
    K = 2
    Q = np.broadcast_to(np.eye(K), (len(alpha), K, K))
    R = np.broadcast_to(0.5 * np.eye(K), (len(alpha), K, K))
    a = np.ones((len(alpha), K))
    from metarep.config import Config

    cfg = Config(K=2, M=2, eta=4.0, eta_in=2.0, v_std=0.5)
    theory = Trajectory(alpha, Q, R, a, 0.2 - 0.005 * alpha, config=cfg)
    sims = {}
    for i, n in enumerate((500, 2000)):
        lift = (1.1 + 0.02 * np.array([[1.0], [-1.0], [0.5]]) / (i + 1)) * np.ones((1, len(alpha)))
        Qs = np.eye(K) * lift[..., None, None]
        sims[n] = Trajectory(alpha, Qs, np.broadcast_to(R, (3, *R.shape)),
                             np.broadcast_to(a, (3, *a.shape)), np.zeros((3, len(alpha))),
                             seeds=np.arange(3), config=cfg)
    return plot_sensitivity(amps, theory, sims)


CASES = [
    FigureCase("finite_size_runs", "metarep.studies.finite_size.plot_finite_size_runs",
               _plot("plot_finite_size_runs", False)),
    FigureCase("finite_size_scaling", "metarep.studies.finite_size.plot_finite_size_scaling",
               _plot("plot_finite_size_scaling", True)),
    FigureCase("finite_size_scaling_symmetric",
               "metarep.studies.finite_size.plot_finite_size_scaling",
               _plot("plot_finite_size_scaling", False)),
    FigureCase("finite_size_convergence", "metarep.studies.finite_size.plot_convergence",
               _plot_convergence),
    FigureCase("finite_size_sensitivity", "metarep.studies.finite_size.plot_sensitivity",
               _plot_sensitivity),
]
