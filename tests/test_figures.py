"""Figure regression: every figure function of ``metarep`` is guarded twice.

1. **Image**: pytest-mpl draws the case and compares it with ``tests/baseline/<case>.png``
   (run with ``--mpl``; RMS tolerance per case, on the 0–255 scale). A failure names the RMS
   difference and leaves the images under ``_build/mpl-results/``.
2. **Numbers**: a fingerprint of the data actually drawn — every line, marker set, error
   bar, filled area, patch and image of every axes — is compared with ``tests/fingerprints.json``.
   Text positions are included (their content is guarded by the image). For each drawn
   array x (n finite values) the fingerprint stores n, Σx, ‖x‖₂ and the
   ramp-weighted sum Σ wᵢxᵢ (w from 1 to 2, so that reordering is noticed). They must agree to
   ``RTOL`` relative to the array's scale: |Δ‖x‖| ≤ RTOL‖x‖, |ΔΣx| ≤ RTOL√n‖x‖ and
   |ΔΣwx| ≤ 2·RTOL√n‖x‖ (Cauchy–Schwarz bounds of the two sums). The message names the
   figure, axes, artist (with its label) and quantity.

The data are small and deterministic. ``make baselines`` regenerates both references
deliberately (``--mpl-generate-path=tests/baseline --update-fingerprints``).

**Adding a figure function**: append one :class:`FigureCase` to ``CASES`` (a name, the
dotted name of the function it covers, and a function that draws it from small deterministic
data), then run ``make baselines``. ``test_every_figure_function_has_a_case`` fails for any
public ``plot_*`` function of the package without a case.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import math
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import Collection, LineCollection
from matplotlib.figure import Figure

import metarep
from metarep.config import Config
from metarep.trajectory import Trajectory

FINGERPRINTS = Path(__file__).with_name("fingerprints.json")

#: Relative tolerance of the fingerprints. The drawn data are deterministic float64
#: computations of a pinned stack; across CPUs they differ by reassociation rounding
#: (~1e-13), far below this, while any change of a plotted quantity is far above it.
RTOL = 1e-6


# -- the cases ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FigureCase:
    """One figure to guard: ``draw()`` returns a Figure made from small deterministic data."""

    name: str          #: baseline file tests/baseline/<name>.png and key in fingerprints.json
    function: str      #: dotted name of the figure function covered, e.g. metarep.plotting.plot_overview
    draw: Callable[[], Figure]
    tolerance: float = 2.0  #: pytest-mpl RMS tolerance (0–255 scale)


def specializing_run(n_seeds: int | None = None, K: int = 2, M: int = 2,
                     alpha_max: float = 20.0, records: int = 81) -> Trajectory:
    """A closed-form trajectory shaped like a meta-training run: the error sits on a plateau,
    then the unit k aligns with teacher unit k (a logistic switch at α = 8) while its norm
    grows. With ``n_seeds``, seeded Gaussian scatter (std 0.02) imitates a simulation."""
    cfg = Config(K=K, M=M, N=500, alpha_max=alpha_max, record_every=alpha_max / (records - 1))
    alpha = np.linspace(0.0, alpha_max, records)
    s = 1.0 / (1.0 + np.exp(-(alpha - 8.0)))                         # specialization switch
    q_norm = 0.2 + 0.8 * s
    R = np.zeros((records, K, M))
    for k in range(K):
        for m in range(M):
            R[:, k, m] = (0.3 * (1 - s) + s) * q_norm if k % M == m else 0.3 * (1 - s) * q_norm
    Q = np.einsum("n,kl->nkl", q_norm**2, np.eye(K)) + 0.05 * (1 - s)[:, None, None]
    a = np.outer(0.5 + 0.5 * s, np.ones(K))
    eg = 0.02 + 0.3 * (1 - s) * np.exp(-alpha / 40.0)
    if n_seeds is None:
        return Trajectory(alpha, Q, R, a, eg, config=cfg)
    rng = np.random.default_rng(0)
    jitter = lambda x: x + 0.02 * rng.standard_normal((n_seeds, *x.shape))  # noqa: E731
    return Trajectory(alpha, jitter(Q), jitter(R), jitter(a), np.abs(jitter(eg)),
                      seeds=np.arange(n_seeds), config=cfg)


def _overview_theory_and_simulation() -> Figure:
    from metarep.plotting import plot_overview

    return plot_overview(specializing_run(), specializing_run(n_seeds=4))


def _overview_simulation_only() -> Figure:
    from metarep.plotting import plot_overview

    return plot_overview(sim=specializing_run(n_seeds=3, K=3, M=2))


def _scenario_diagram() -> Figure:
    from metarep.diagrams import plot_scenario_diagram

    return plot_scenario_diagram(K=3, M=2)


CASES: list[FigureCase] = [
    FigureCase("scenario_diagram", "metarep.diagrams.plot_scenario_diagram", _scenario_diagram),
    FigureCase("overview", "metarep.plotting.plot_overview", _overview_theory_and_simulation),
    FigureCase("overview_sim_only", "metarep.plotting.plot_overview",
               _overview_simulation_only),
]


# -- chapter "Hyper-parameters" (metarep.studies.hyperparameters); data: closed-form grids of
#    tests/test_studies_hyperparameters.py::synthetic_grid

def _hyper(name: str):
    from metarep.studies import hyperparameters

    return getattr(hyperparameters, name)


def _hyper_grid(names=("eta", "eta_in")):
    from test_studies_hyperparameters import synthetic_grid

    return synthetic_grid(names)


def _hyper_inner_stability() -> Figure:
    rates = np.linspace(0.0, 6.0, 61)
    steps = (1, 2, 4)
    errors = np.array([0.01 + 0.3 * (1 - rates / 2.5) ** (2 * S) for S in steps])
    return _hyper("plot_inner_stability")(rates, errors, steps, 5.0, 0.31)


def _hyper_inner_rate() -> Figure:
    a, b = _hyper_grid(("eta_in",)), _hyper_grid(("eta_in",))
    b = dataclasses.replace(b, label="first-order", eg=b.eg * 1.5)
    return _hyper("plot_inner_rate")([a, b])


def _hyper_outer_rate() -> Figure:
    line = _hyper_grid(("eta",))
    return _hyper("plot_outer_rate")(line, _hyper("outer_rate_max")(line))


def _hyper_first_order() -> Figure:
    full = _hyper_grid(("eta_in",))
    first = dataclasses.replace(full, eg=full.eg * 1.2, stiffness=full.stiffness * 1.5)
    return _hyper("plot_first_order")(full, first, full.values[0][[1, 3]])


def _hyper_phase_diagram() -> Figure:
    SimPoint = _hyper("SimPoint")
    sims = [SimPoint(1.0, 2.0, specializing_run(n_seeds=2)),
            SimPoint(4.0, 8.0, specializing_run(n_seeds=2, alpha_max=5.0))]
    return _hyper("plot_phase_diagram")(_hyper_grid(), sims)


CASES += [
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


# -- chapter "Over-parameterization" (metarep.studies.overparameterization)

def _overparam_ensemble(K: int, n_seeds: int = 3):
    """Closed-form runs of width K (M = 2), shaped like specializing_run, one per seed with
    the switch shifted by the seed."""
    from metarep.studies.overparameterization import Ensemble

    runs = [specializing_run(K=K, M=2, alpha_max=40.0) for _ in range(n_seeds)]
    shift = np.arange(n_seeds)[:, None]
    alpha = runs[0].alpha
    spec = 1.0 / (1.0 + np.exp(-(alpha[None] - 12.0 - 2.0 * shift - K)))
    eg = 0.001 * K + 0.1 * (1 - spec)
    stack = lambda name: np.stack([getattr(r, name) for r in runs])  # noqa: E731
    return Ensemble(np.arange(n_seeds), alpha, eg, spec, 0.8 * eg, stack("Q"), stack("R"),
                    stack("a"), runs[0].config.replace(K=K), np.eye(2))


def _overparam_dynamics() -> Figure:
    from metarep.studies.overparameterization import plot_width_dynamics

    ens = [_overparam_ensemble(K) for K in (2, 4)]
    sim = specializing_run(n_seeds=2, K=4, M=2, alpha_max=40.0, records=21)
    return plot_width_dynamics(ens, sim, ens[1].select([0, 1]))


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

    return plot_width_dependence([_overparam_ensemble(K) for K in (2, 4, 6)])


CASES += [
    FigureCase("overparam_dynamics",
               "metarep.studies.overparameterization.plot_width_dynamics", _overparam_dynamics),
    FigureCase("overparam_roles", "metarep.studies.overparameterization.plot_unit_roles",
               _overparam_roles),
    FigureCase("overparam_width",
               "metarep.studies.overparameterization.plot_width_dependence", _overparam_width),
]


# -- dynamics and symmetry-breaking chapters (metarep.studies.dynamics, .symmetry) ---------

def _dynamics() -> Figure:
    from metarep.studies.dynamics import Phases, plot_dynamics

    return plot_dynamics(specializing_run(), specializing_run(n_seeds=3),
                         Phases(escape=3.0, onset=6.0, specialized=11.0, eg_plateau=0.2))


def _overlap_heatmaps() -> Figure:
    from metarep.studies.dynamics import plot_overlap_heatmaps

    return plot_overlap_heatmaps(specializing_run(), [0.0, 8.0, 20.0],
                                 specializing_run(n_seeds=2))


def _symmetry_modes():
    """Synthetic spectrum of K = M = 2 with a learned head (9 coordinates): one odd unstable
    mode δR ∝ [[1, −1], [−1, 1]], one odd stable mode, the rest even."""
    from metarep.studies.symmetry import Modes

    ev = np.array([0.12, -0.01, -0.02, -0.05, -0.1, -0.2, -0.3, -0.4, -0.5])
    V = np.eye(9)
    V[:, 0] = [0, 0, 0, 0.5, -0.5, -0.5, 0.5, 0, 0]
    odd = np.zeros(9, dtype=bool)
    odd[[0, 7]] = True
    return Modes(ev, V, odd, 0.12, 0)


def _symmetry_spectrum() -> Figure:
    from metarep.studies.symmetry import plot_spectrum

    return plot_spectrum(_symmetry_modes(), 2, 2, True)


def _symmetry_escape() -> Figure:
    from metarep.studies.symmetry import EscapeScan, plot_escape

    deltas = np.logspace(-6, -1, 6)
    alpha = np.linspace(0.0, 150.0, 151)
    rate = 0.1
    breaking = np.minimum(deltas[:, None] * np.exp(rate * alpha), 1.0)
    t_spec = np.log(1 / deltas) / rate + 5.0
    s = 1 / (1 + np.exp(-(alpha - t_spec[:, None])))
    return plot_escape(EscapeScan(deltas, alpha, breaking, s, 0.1 * (1 - s), t_spec), rate, 5.0)


def _symmetry_size_scaling() -> Figure:
    from metarep.studies.symmetry import plot_size_scaling

    Ns = [250, 1000, 4000]
    t_ode = np.array([[20.0, 22.0, 25.0, 23.0], [26.0, 24.0, 29.0, 27.0], [30.0, 28.0, 33.0, 31.0]])
    t_sim = ([250, 1000], np.array([[21.0, 26.0, 24.0], [25.0, 30.0, 27.0]]))
    return plot_size_scaling(Ns, t_ode, t_sim, 0.2, -7.0)


CASES += [
    FigureCase("dynamics", "metarep.studies.dynamics.plot_dynamics", _dynamics),
    FigureCase("dynamics_heatmaps", "metarep.studies.dynamics.plot_overlap_heatmaps",
               _overlap_heatmaps),
    FigureCase("symmetry_spectrum", "metarep.studies.symmetry.plot_spectrum",
               _symmetry_spectrum),
    FigureCase("symmetry_escape", "metarep.studies.symmetry.plot_escape", _symmetry_escape),
    FigureCase("symmetry_size_scaling", "metarep.studies.symmetry.plot_size_scaling",
               _symmetry_size_scaling),
]


# -- task variability and new tasks (metarep.studies.variability, .new_tasks) --------------

def _variability_scan(key: str, values, eta: float = 1.0, scale: float = 1.0):
    """A FinalScan with smooth closed-form values (no integration)."""
    from metarep.studies.variability import FinalScan

    x = np.asarray(values, dtype=float)
    return FinalScan(key=key, values=x, eta=eta, eg=scale * (0.03 + 0.4 * x**2 + 0.01 * eta),
                     oracle=scale * (0.01 + 0.38 * x**2), specialization=1.0 - 0.2 * x * eta,
                     alpha_spec=30.0 + 80.0 * x**2, eg_test=scale * (0.05 + 0.3 * x),
                     test_eta_in=1.0, test_steps=1)


def _with_specialization(traj: Trajectory) -> Trajectory:
    from metarep.observables import specialization_index

    spec = np.asarray(specialization_index(traj.Q, traj.R, traj.T))
    return traj.replace(observables={"specialization": spec})


def _variability_spread_dynamics() -> Figure:
    from metarep.studies.variability import plot_spread_dynamics

    odes = {0.0: _with_specialization(specializing_run()),
            0.3: _with_specialization(specializing_run()).replace(eg=specializing_run().eg + 0.05)}
    sim = specializing_run(n_seeds=3)
    sim = sim.replace(config=sim.config.replace(teacher_spread=0.3))
    return plot_spread_dynamics(odes, {0.0: 0.0, 0.3: 0.04}, sim)


def _variability_spread_floor() -> Figure:
    from metarep.studies.variability import plot_spread_floor

    grid = np.linspace(0.0, 0.6, 31)
    scans = [_variability_scan("teacher_spread", np.linspace(0.0, 0.6, 4), eta)
             for eta in (1.0, 0.3)]
    return plot_spread_floor(scans, grid, 0.38 * grid**2)


def _variability_readout() -> Figure:
    from metarep.studies.variability import plot_readout

    run = specializing_run()
    run = run.replace(config=run.config.replace(v_mean=0.0, v_std=1.0))
    odes = {0.0: run.replace(eg=np.full_like(run.eg, 1 / 3)), 1.0: run}
    sims = {0.0: specializing_run(n_seeds=2), 1.0: specializing_run(n_seeds=2)}
    scans = {e: _variability_scan("v_mean", [0.0, 0.5, 1.0, 2.0], scale=1.0 + 5 * (e == 0))
             for e in (0.0, 1.0)}
    return plot_readout(odes, sims, scans)


def _variability_label_noise() -> Figure:
    from metarep.studies.variability import plot_label_noise

    return plot_label_noise([_variability_scan("label_noise", [0.0, 0.2, 0.4], eta)
                             for eta in (1.0, 0.5)])


def _new_tasks_adaptation() -> Figure:
    from metarep.studies.new_tasks import plot_adaptation

    steps = np.arange(6)
    curves = {"meta-learned": 0.02 + 0.3 * 0.3**steps, "random": 0.4 - 0.001 * steps}
    oracles = {"meta-learned": 0.02, "random": 0.39}
    return plot_adaptation(steps, curves, oracles, {"meta-learned": (1, 0.11, 0.004),
                                                    "random": (1, 0.4, 0.006)})


def _new_tasks_few_shot() -> Figure:
    from metarep.studies.new_tasks import FewShot, plot_few_shot

    supports = (2, 5, 20, "inf")
    res = {name: FewShot(supports, np.array(m), np.array([0.004, 0.003, 0.002, 0.001]),
                         np.array([m, m]), np.full((2, 4), 0.003), 1, 1.0)
           for name, m in (("meta-learned", [0.17, 0.11, 0.08, 0.07]),
                           ("multi-task SGD", [0.30, 0.26, 0.24, 0.235]))}
    return plot_few_shot(res, {"meta-learned": 0.07, "multi-task SGD": 0.236})


CASES += [
    FigureCase("variability_spread_dynamics",
               "metarep.studies.variability.plot_spread_dynamics", _variability_spread_dynamics),
    FigureCase("variability_spread_floor", "metarep.studies.variability.plot_spread_floor",
               _variability_spread_floor),
    FigureCase("variability_readout", "metarep.studies.variability.plot_readout",
               _variability_readout),
    FigureCase("variability_label_noise", "metarep.studies.variability.plot_label_noise",
               _variability_label_noise),
    FigureCase("new_tasks_adaptation", "metarep.studies.new_tasks.plot_adaptation",
               _new_tasks_adaptation),
    FigureCase("new_tasks_few_shot", "metarep.studies.new_tasks.plot_few_shot",
               _new_tasks_few_shot),
]


# -- chapters "Does the theory hold?" and "Finite-size effects" (metarep.verification); data:
#    fixed arrays and the closed-form runs of specializing_run

def _verif(name: str):
    from metarep import verification

    return getattr(verification, name)


def _verif_drift() -> Figure:
    DC = _verif("DriftComparison")
    names = _verif("entry_names")(2, 2)
    theory = np.linspace(-0.4, 0.6, len(names))
    sem = 0.01 + 0.002 * np.arange(len(names))
    wiggle = np.sin(np.arange(len(names)))
    return _verif("plot_drift")([DC(names, theory, theory + 1.5 * sem * wiggle, sem, 1000, "full"),
                                 DC(names, -theory, -theory + sem * wiggle, sem, 1000, "first")])


def _verif_trajectories() -> Figure:
    return _verif("plot_trajectories")(specializing_run(),
                                       {500: specializing_run(n_seeds=3),
                                        2000: specializing_run(n_seeds=4)})


def _verif_deviation() -> Figure:
    N = np.array([250.0, 700.0, 2000.0])
    rms = 0.25 / np.sqrt(N) * np.array([1.0, 1.1, 0.95])
    return _verif("plot_deviation")(_verif("Deviation")(N, rms, 0.08 * rms, 0.1 * rms,
                                                        0.01 * rms, rms, np.ones(3), rms))


def _verif_finite_size(ode_specializes: bool = True):
    N = np.array([125.0, 350.0, 1000.0])
    alpha = np.linspace(0.0, 20.0, 41)
    shifts = [np.array([8.0, 9.0, 10.0]) + 1.5 * np.log(n / 125.0) for n in N]
    spec = [1 / (1 + np.exp(-(alpha[None] - t[:, None]))) for t in shifts]
    curves = [np.exp(alpha / 10) / np.sqrt(n) for n in N]
    dev = 0.3 / np.sqrt(N)
    t_ode = [t + 0.5 if ode_specializes else np.full(3, np.inf) for t in shifts]
    return _verif("FiniteSize")(N, alpha, 5.0, curves, dev, 0.1 * dev, shifts, t_ode, spec,
                                [s * 0.9 if ode_specializes else 0 * s for s in spec])


CASES += [
    FigureCase("verification_drift", "metarep.verification.plot_drift", _verif_drift),
    FigureCase("verification_trajectories", "metarep.verification.plot_trajectories",
               _verif_trajectories),
    FigureCase("verification_deviation", "metarep.verification.plot_deviation",
               _verif_deviation),
    FigureCase("finite_size_runs", "metarep.verification.plot_finite_size_runs",
               lambda: _verif("plot_finite_size_runs")(_verif_finite_size(False))),
    FigureCase("finite_size_scaling", "metarep.verification.plot_finite_size_scaling",
               lambda: _verif("plot_finite_size_scaling")(_verif_finite_size())),
    FigureCase("finite_size_scaling_symmetric", "metarep.verification.plot_finite_size_scaling",
               lambda: _verif("plot_finite_size_scaling")(_verif_finite_size(False))),
]


# -- fingerprints of drawn data -------------------------------------------------------------

def drawn_arrays(fig: Figure) -> dict[str, np.ndarray]:
    """Every numeric array drawn in ``fig``, keyed by axes, artist (and label) and field."""
    out: dict[str, np.ndarray] = {}
    for i, ax in enumerate(fig.axes):
        for j, line in enumerate(ax.get_lines()):
            key = f"ax{i}.line{j}[{line.get_label()}]"
            out[f"{key}.x"] = np.asarray(line.get_xdata(), dtype=float)
            out[f"{key}.y"] = np.asarray(line.get_ydata(), dtype=float)
        for j, coll in enumerate(ax.collections):
            key = f"ax{i}.{type(coll).__name__}{j}[{coll.get_label()}]"
            if isinstance(coll, LineCollection):        # error bars
                segs = coll.get_segments()
                out[f"{key}.segments"] = (np.concatenate(segs).ravel() if segs
                                          else np.zeros(0))
            elif isinstance(coll, Collection):
                out[f"{key}.offsets"] = np.asarray(coll.get_offsets(), dtype=float).ravel()
                paths = coll.get_paths()
                if paths:                                   # filled areas, patches
                    out[f"{key}.vertices"] = np.concatenate(
                        [p.vertices.ravel() for p in paths])
                if coll.get_array() is not None:            # colour-mapped values
                    out[f"{key}.values"] = np.ma.filled(
                        np.asarray(coll.get_array(), dtype=float).ravel(), np.nan)
        for j, patch in enumerate(ax.patches):              # boxes, arrows, bars
            out[f"ax{i}.{type(patch).__name__}{j}[{patch.get_label()}].vertices"] = \
                patch.get_patch_transform().transform(patch.get_path().vertices).ravel()
        if ax.texts:                                        # where annotations sit
            out[f"ax{i}.text_positions"] = np.array(
                [t.get_position() for t in ax.texts], dtype=float).ravel()
        for j, image in enumerate(ax.get_images()):
            out[f"ax{i}.image{j}.values"] = np.ma.filled(
                np.asarray(image.get_array(), dtype=float), np.nan).ravel()
        out[f"ax{i}.limits"] = np.array([*ax.get_xlim(), *ax.get_ylim()], dtype=float)
    return out


def fingerprint(fig: Figure) -> dict[str, dict[str, float]]:
    """n, Σx, ‖x‖₂ and Σwx (w: ramp from 1 to 2) of the finite values of each drawn array."""
    result = {}
    for key, arr in drawn_arrays(fig).items():
        x = arr[np.isfinite(arr)]
        w = np.linspace(1.0, 2.0, x.size) if x.size else x
        result[key] = {"n": int(x.size), "sum": float(x.sum()),
                       "norm": float(np.sqrt((x * x).sum())), "ramp": float((w * x).sum())}
    return result


def compare_fingerprints(name: str, got: dict, want: dict, rtol: float = RTOL) -> list[str]:
    """Readable differences between two fingerprints (empty when they agree)."""
    problems = []
    for key in sorted(set(want) - set(got)):
        problems.append(f"{name}: {key} is no longer drawn")
    for key in sorted(set(got) - set(want)):
        problems.append(f"{name}: {key} is drawn but has no stored fingerprint")
    for key in sorted(set(got) & set(want)):
        g, w = got[key], want[key]
        if g["n"] != w["n"]:
            problems.append(f"{name}: {key} has {g['n']} finite values, expected {w['n']}")
            continue
        scale = w["norm"]
        bounds = {"norm": rtol * scale, "sum": rtol * math.sqrt(w["n"]) * scale,
                  "ramp": 2 * rtol * math.sqrt(w["n"]) * scale}
        for q, bound in bounds.items():
            if abs(g[q] - w[q]) > bound:
                problems.append(f"{name}: {key} {q} = {g[q]:.12g}, expected {w[q]:.12g} "
                                f"(|difference| {abs(g[q] - w[q]):.3g} > {bound:.3g} "
                                f"= {rtol:g} relative)")
    return problems


# -- tests ------------------------------------------------------------------------------------

def _image_param(case: FigureCase):
    return pytest.param(case, id=case.name, marks=pytest.mark.mpl_image_compare(
        baseline_dir="baseline", filename=f"{case.name}.png", tolerance=case.tolerance,
        style="default", savefig_kwargs={"dpi": 80}))


@pytest.mark.parametrize("case", [_image_param(c) for c in CASES])
def test_figure_image(case):
    """The figure looks as stored (pytest-mpl with --mpl; without it, it only draws)."""
    return case.draw()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_figure_fingerprint(case, request):
    """The data drawn in the figure are those stored in tests/fingerprints.json."""
    with plt.style.context("default"):
        fig = case.draw()
    got = fingerprint(fig)
    plt.close(fig)
    if request.config.getoption("--update-fingerprints"):
        stored = json.loads(FINGERPRINTS.read_text()) if FINGERPRINTS.exists() else {}
        stored[case.name] = got
        FINGERPRINTS.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        return
    stored = json.loads(FINGERPRINTS.read_text())
    assert case.name in stored, f"no fingerprint for {case.name}: run `make baselines`"
    problems = compare_fingerprints(case.name, got, stored[case.name])
    assert not problems, "figure data changed:\n  " + "\n  ".join(problems)


def _figure_functions() -> set[str]:
    """Dotted names of the public ``plot_*`` functions defined in the package."""
    names = set()
    for mod in pkgutil.walk_packages(metarep.__path__, "metarep."):
        if mod.name.endswith("__main__"):
            continue
        module = importlib.import_module(mod.name)
        for name, obj in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("plot_") and obj.__module__ == module.__name__:
                names.add(f"{module.__name__}.{name}")
    return names


def test_every_figure_function_has_a_case():
    covered = {case.function for case in CASES}
    assert _figure_functions() - covered == set(), \
        f"figure functions without a FigureCase in {__file__}: {_figure_functions() - covered}"
    assert covered - _figure_functions() == set(), f"cases of unknown functions: {covered}"


def test_references_have_no_stale_entries(request):
    if request.config.getoption("--update-fingerprints"):
        return
    names = {case.name for case in CASES}
    assert len(names) == len(CASES), "two figure cases share a name"
    stored = set(json.loads(FINGERPRINTS.read_text()))
    baselines = {p.stem for p in Path(__file__).with_name("baseline").glob("*.png")}
    assert stored == names, f"fingerprints.json entries {stored ^ names} do not match CASES"
    assert baselines == names, f"tests/baseline/ images {baselines ^ names} do not match CASES"


def test_fingerprint_comparison_reports_changes():
    """The comparison itself: equal passes, a changed value or artist is named."""
    fig, ax = plt.subplots()
    ax.plot([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], label="curve")
    want = fingerprint(fig)
    ax.lines[0].set_ydata([1.0, 2.0, 3.0 * (1 + 10 * RTOL)])
    got = fingerprint(fig)
    plt.close(fig)
    assert compare_fingerprints("demo", want, want) == []
    problems = compare_fingerprints("demo", got, want)
    assert problems and all("ax0.line0[curve].y" in p for p in problems), problems
    assert compare_fingerprints("demo", {}, want)[0].endswith("is no longer drawn")
