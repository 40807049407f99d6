r"""Hyper-parameters of meta-training (book chapter "Hyper-parameters").

How the inner rate η_in, the number of inner steps S, the outer rate η and the choice between
the full and the first-order meta-gradient decide whether, and how fast, the meta-learner
specializes. Everything is computed from the ODE of :mod:`metarep.ode`, integrated over grids
of hyper-parameters by :func:`metarep.sweep.sweep`, and checked against
:func:`metarep.simulator.simulate` at a few points.

Derived quantities of a run (functions of the recorded order parameters):

* the **time to specialize** t_spec (:func:`metarep.analysis.specialization_time`: the
  specialization index reaches 1/2, interpolated; ∞ if it never does);
* the **inner stiffness** η_in λ_max(C), C = I2(Q) (:func:`metarep.observables.inner_stiffness`:
  the population inner loop is stable iff it is < 2, book equation ``eq-inner-stability``;
  the first-order head update is stable for odd S iff it is < 1, ``eq-fo-head``);
* the mean norm (1/K) Σ_k Q_kk.

Figures: :func:`plot_inner_stability`, :func:`plot_inner_rate`, :func:`plot_outer_rate`,
:func:`plot_first_order`, :func:`plot_phase_diagram`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from metarep import metaloss, observables
from metarep.analysis import seed_stats, specialization_time
from metarep.plotting import (ALPHA_LABEL, EG_FINAL_LABEL, ETA_IN_LABEL, ETA_LABEL, STIFF_LABEL,
                              TSPEC_LABEL, style)
from metarep.sweep import sweep
from metarep.trajectory import Trajectory


def _stiffness(Q, eta_in) -> np.ndarray:
    """:func:`metarep.observables.inner_stiffness` of recorded states, as a NumPy array."""
    return np.asarray(observables.inner_stiffness(jnp.asarray(Q), jnp.asarray(eta_in)))


# -- grids of ODE runs -------------------------------------------------------------------------

@dataclass(frozen=True)
class RateGrid:
    """ODE runs on the outer-product grid of some hyper-parameters, with derived quantities.

    names: swept keys (e.g. ("eta", "eta_in")); values: one 1-d array per key; label: legend
    text; alpha (n,). With G the lengths of the axes: eg, specialization, stiffness
    (η_in λ_max(C)) and norm (mean Q_kk) of shape (G, n), NaN from a run's first diverged
    record on; diverged (G,) bool; the final state at α_max, Q (G, K, K), R (G, K, M),
    a (G, K).
    """

    names: tuple
    values: tuple
    label: str
    alpha: np.ndarray
    eg: np.ndarray
    specialization: np.ndarray
    stiffness: np.ndarray
    norm: np.ndarray
    diverged: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray

    @property
    def final_error(self) -> np.ndarray:
        """Meta-test error at α_max (NaN for diverged runs), shape (G,)."""
        return self.eg[..., -1]

    @property
    def t_spec(self) -> np.ndarray:
        """Time to specialize (:func:`metarep.analysis.specialization_time`; ∞ if not by
        α_max), shape (G,)."""
        return specialization_time(self.alpha, self.specialization)

    def table(self) -> dict:
        """One row per grid point (C order): the swept keys, then ``final_error``,
        ``t_spec`` (inf: not specialized), ``diverged`` (0/1), the final ``stiffness`` and
        ``norm``; columns for :func:`metarep.downloads.write_csv`."""
        mesh = np.meshgrid(*self.values, indexing="ij")
        cols = {name: m.ravel() for name, m in zip(self.names, mesh)}
        cols.update(final_error=self.final_error.ravel(), t_spec=self.t_spec.ravel(),
                    diverged=self.diverged.ravel().astype(int),
                    stiffness=self.stiffness[..., -1].ravel(), norm=self.norm[..., -1].ravel())
        return cols

    def axis(self, name: str) -> np.ndarray:
        """The values of the swept key ``name``."""
        return self.values[self.names.index(name)]

    def line(self, **fixed: float) -> "RateGrid":
        """The sub-grid with some keys fixed at grid values (e.g. ``line(eta=1.0)``)."""
        index: list = [slice(None)] * len(self.names)
        names, values = list(self.names), list(self.values)
        for key, value in fixed.items():
            axis = self.names.index(key)
            hit = np.flatnonzero(np.isclose(self.values[axis], value, rtol=1e-9, atol=0))
            if hit.size != 1:
                raise ValueError(f"{key} = {value} is not a value of the grid: "
                                 f"{self.values[axis]}")
            index[axis] = int(hit[0])
        keep = [i for i, ix in enumerate(index) if isinstance(ix, slice)]
        ix = tuple(index)
        return RateGrid(tuple(names[i] for i in keep), tuple(values[i] for i in keep),
                        self.label, self.alpha, self.eg[ix], self.specialization[ix],
                        self.stiffness[ix], self.norm[ix], self.diverged[ix], self.Q[ix],
                        self.R[ix], self.a[ix])


def rate_grid(cfg, grid: dict, label: str = "", alphas=None) -> RateGrid:
    """Integrate the ODE of ``cfg`` over the outer-product ``grid`` ({key: values}, keys of
    :data:`metarep.sweep.SWEEPABLE`) with :func:`metarep.sweep.sweep` (one compilation per
    call) and derive the quantities of :class:`RateGrid`."""
    res = sweep(cfg, grid, alphas)
    names = tuple(res.names)
    if "eta_in" in names:
        mesh = np.meshgrid(*res.values, indexing="ij")[names.index("eta_in")]
        eta_in = mesh[..., None]
    else:
        eta_in = cfg.eta_in
    stiff = _stiffness(res.Q, eta_in)
    norm = np.mean(np.diagonal(res.Q, axis1=-2, axis2=-1), axis=-1)
    return RateGrid(names, tuple(np.asarray(v) for v in res.values), label,
                    np.asarray(res.alpha), res.eg, res.observables["specialization"], stiff,
                    norm, res.diverged.any(axis=-1), res.Q[..., -1, :, :],
                    res.R[..., -1, :, :], res.a[..., -1, :])


def outer_rate_max(line: RateGrid) -> float:
    """The largest η of a 1-d η grid whose run specializes by α_max (t_spec finite).

    Resolution: the grid spacing (the next larger η of the grid does not specialize). NaN if
    no run specializes.
    """
    if line.names != ("eta",):
        raise ValueError(f"outer_rate_max needs a 1-d grid over eta, got {line.names}")
    ok = np.isfinite(line.t_spec)
    return float(line.values[0][ok].max()) if ok.any() else float("nan")


def error_vs_inner_rate(Q, R, a, dist, eta_ins, steps) -> np.ndarray:
    """Meta-test error F (``eq-metaloss``) at the fixed state (Q, R, a) for every inner rate
    of ``eta_ins`` (n,) and every number of inner steps of ``steps`` (s,); shape (s, n)."""
    Q, R, a = (jnp.asarray(x, dtype=jnp.float64) for x in (Q, R, a))
    rates = jnp.asarray(eta_ins, dtype=jnp.float64)
    return np.stack([np.asarray(jax.vmap(
        lambda e, S=int(S): metaloss.meta_test_error(Q, R, a, dist, e, S))(rates))
        for S in steps])


def inner_rate_bound(Q) -> float:
    """2/λ_max(C) at Q (K, K): the largest stable inner rate (``eq-inner-stability``)."""
    return float(2.0 / _stiffness(Q, 1.0))


# -- simulation checks -------------------------------------------------------------------------

@dataclass(frozen=True)
class SimPoint:
    """A simulation at one grid point: η, η_in, and the trajectory (with a seed axis)."""

    eta: float
    eta_in: float
    traj: Trajectory

    @property
    def final_error(self) -> tuple[float, float]:
        """Seed mean and standard error of the meta-test error at α_max."""
        st = seed_stats(self.traj.eg[:, -1])
        return float(st.mean), float(st.sem)

    @property
    def t_spec(self) -> np.ndarray:
        """Time to specialize per seed (∞ if not by α_max), (seeds,)."""
        return specialization_time(self.traj.alpha, self.traj.specialization())


def simulate_points(cfg, points, seeds: int = 2, eg_tasks: int = 1000) -> list[SimPoint]:
    """:func:`metarep.simulator.simulate` at the (η, η_in) pairs ``points`` (one compilation
    for all: the rates are traced), ``seeds`` seeds each, the meta-test error estimated on
    ``eg_tasks`` fresh tasks per record, without progress bars."""
    from metarep.simulator import simulate

    return [SimPoint(float(e), float(ei),
                     simulate(cfg.replace(eta=float(e), eta_in=float(ei)), seeds=seeds,
                              progress=False, eg_tasks=eg_tasks)) for e, ei in points]


# -- figures ------------------------------------------------------------------------------------

def _markers():
    return ["o", "s", "^", "D", "v"]


def _rate_ticks(ax, which: str = "x") -> None:
    """Log axis of a rate: labelled ticks at 1, 2, 5 × 10^k, plain numbers, no minor labels."""
    for name in which:
        axis = ax.xaxis if name == "x" else ax.yaxis
        axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def plot_inner_stability(eta_ins, errors, steps, bound, no_adaptation=None):
    """The meta-test error at a fixed state against η_in for several numbers of inner steps.

    eta_ins (n,), errors (s, n) from :func:`error_vs_inner_rate`, steps (s,), bound = 2/λ_max(C)
    (vertical line); no_adaptation: error without adaptation (horizontal line).
    """
    eta_ins, errors = np.asarray(eta_ins), np.asarray(errors)
    with style():
        fig, ax = plt.subplots(figsize=(4.6, 3.0))
        colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(steps)))
        for S, err, c in zip(steps, errors, colors):
            ax.plot(eta_ins, err, color=c, label=f"$S = {S}$")
        ax.axvline(bound, color="k", ls="--", lw=1.0,
                   label=r"$2/\lambda_\mathrm{max}(C)$")
        if no_adaptation is not None:
            ax.axhline(no_adaptation, color="0.5", ls=":", lw=1.0, label="no adaptation")
        ax.set_yscale("log")
        ax.set_xlabel(ETA_IN_LABEL + " at test time")
        ax.set_ylabel(r"meta-test error $F$ at a fixed state")
        ax.legend(ncol=2)
    return fig


def plot_inner_rate(lines: list[RateGrid]):
    """Three panels against η_in: final error, time to specialize, final stiffness.

    ``lines``: 1-d grids over ``eta_in`` (one per S or meta-gradient, each with a label).
    Diverged runs are marked by crosses at the top of the error panel; the stiffness panel
    shows the bounds 1 (first-order head update, odd S) and 2 (inner loop).
    """
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(9.0, 2.9))
        colors = ["k", "C0", "C2", "C3", "C1"]
        finite = np.concatenate([ln.final_error[np.isfinite(ln.final_error)] for ln in lines])
        top = finite.max() * 1.6
        for i, ln in enumerate(lines):
            x = ln.axis("eta_in")
            c, m = colors[i % len(colors)], _markers()[i % 5]
            ls = "--" if "first" in ln.label else "-"
            axes[0].plot(x, ln.final_error, color=c, ls=ls, marker=m, mfc="white", ms=3,
                         label=ln.label)
            if ln.diverged.any():
                axes[0].plot(x[ln.diverged], np.full(ln.diverged.sum(), top), "x", color=c,
                             ms=5, label=f"{ln.label}: diverged")
            t = np.where(np.isfinite(ln.t_spec), ln.t_spec, np.nan)
            axes[1].plot(x, t, color=c, ls=ls, marker=m, mfc="white", ms=3, label=ln.label)
            axes[2].plot(x, ln.stiffness[..., -1], color=c, ls=ls, marker=m, mfc="white",
                         ms=3, label=ln.label)
        ax = axes[0]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(ETA_IN_LABEL)
        ax.set_ylabel(EG_FINAL_LABEL)
        ax.legend(fontsize=6.5)
        _rate_ticks(ax, "x")
        ax = axes[1]
        ax.set_xscale("log")
        _rate_ticks(ax, "x")
        ax.set_xlabel(ETA_IN_LABEL)
        ax.set_ylabel(TSPEC_LABEL)
        ax.set_ylim(0, lines[0].alpha[-1])
        ax = axes[2]
        ax.axhline(2.0, color="0.4", ls="--", lw=1.0)
        ax.axhline(1.0, color="0.4", ls=":", lw=1.0)
        x0 = lines[0].axis("eta_in")[0]
        ax.text(x0, 2.05, "inner loop unstable", fontsize=7, va="bottom", color="0.3")
        ax.text(x0, 1.05, "first-order head unstable (odd $S$)", fontsize=7, va="bottom",
                color="0.3")
        ax.set_xscale("log")
        ax.set_yscale("log")
        _rate_ticks(ax, "xy")
        ax.set_xlabel(ETA_IN_LABEL)
        ax.set_ylabel(STIFF_LABEL + r" at $\alpha_\mathrm{max}$")
    return fig


def plot_outer_rate(line: RateGrid, eta_max: float):
    """Three panels against η: final error, time to specialize, final mean norm Q_kk, with
    the largest specializing rate ``eta_max`` marked (``line``: 1-d grid over ``eta``)."""
    x = line.axis("eta")
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(9.0, 2.8))
        panels = [(line.final_error, EG_FINAL_LABEL, "log"),
                  (np.where(np.isfinite(line.t_spec), line.t_spec, np.nan), TSPEC_LABEL,
                   "linear"),
                  (line.norm[..., -1], r"mean norm $Q_{kk}$ at $\alpha_\mathrm{max}$", "log")]
        for ax, (y, ylabel, yscale) in zip(axes, panels):
            ax.plot(x, y, "k-o", mfc="white", ms=3, label=line.label or None)
            ax.axvline(eta_max, color="C3", ls="--", lw=1.0,
                       label=rf"$\eta_\mathrm{{max}} \approx {eta_max:.3g}$")
            ax.set_xscale("log")
            ax.set_yscale(yscale)
            _rate_ticks(ax, "x")
            ax.set_xlabel(ETA_LABEL)
            ax.set_ylabel(ylabel)
        axes[1].set_ylim(0, line.alpha[-1])
        axes[0].legend()
    return fig


def plot_first_order(full: RateGrid, first: RateGrid, eta_ins):
    """Trajectories of the full and the first-order meta-gradient at a few inner rates:
    meta-test error and stiffness against α (``full``/``first``: 1-d grids over eta_in
    sharing the values ``eta_ins``)."""
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(7.4, 2.9))
        colors = plt.get_cmap("plasma")(np.linspace(0.0, 0.75, len(eta_ins)))
        for e, c in zip(eta_ins, colors):
            for grid, ls, name in ((full, "-", "full"), (first, "--", "first-order")):
                ln = grid.line(eta_in=e)
                lab = rf"$\eta_\mathrm{{in}} = {e:.3g}$, {name}"
                axes[0].plot(ln.alpha, ln.eg, color=c, ls=ls, label=lab)
                axes[1].plot(ln.alpha, ln.stiffness, color=c, ls=ls, label=lab)
        axes[0].set_yscale("log")
        axes[0].set_xlabel(ALPHA_LABEL)
        axes[0].set_ylabel(r"meta-test error $\epsilon_g$")
        axes[0].legend(fontsize=6.5)
        axes[1].axhline(1.0, color="0.4", ls=":", lw=1.0)
        axes[1].axhline(2.0, color="0.4", ls="--", lw=1.0)
        axes[1].set_yscale("log")
        _rate_ticks(axes[1], "y")
        axes[1].set_xlabel(ALPHA_LABEL)
        axes[1].set_ylabel(STIFF_LABEL)
    return fig


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges of a geometric (log-spaced) grid, for pcolormesh."""
    lv = np.log(v)
    mid = (lv[1:] + lv[:-1]) / 2
    return np.exp(np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]]))


def plot_phase_diagram(grid: RateGrid, sims: list[SimPoint] | None = None):
    """The (η_in, η) phase diagram: final meta-test error (left) and time to specialize
    (right, blank where the run does not specialize by α_max), diverged runs hatched;
    simulations as circles filled with their seed-mean values on the same colour scales."""
    if grid.names != ("eta", "eta_in"):
        raise ValueError(f"plot_phase_diagram needs a grid over (eta, eta_in), got {grid.names}")
    eta, eta_in = grid.values
    xe, ye = _edges(eta_in), _edges(eta)
    eg = grid.final_error
    t = np.where(np.isfinite(grid.t_spec), grid.t_spec, np.nan)
    finite = eg[np.isfinite(eg)]
    eg_norm = LogNorm(vmin=finite.min(), vmax=finite.max())
    t_norm = Normalize(vmin=0.0, vmax=grid.alpha[-1])
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.4))
        for ax, z, norm, cmap, label in (
                (axes[0], eg, eg_norm, "viridis", EG_FINAL_LABEL),
                (axes[1], t, t_norm, "magma", TSPEC_LABEL)):
            mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(z), norm=norm, cmap=cmap,
                                 shading="flat")
            fig.colorbar(mesh, ax=ax, label=label)
            if grid.diverged.any():
                ax.contourf(eta_in, eta, grid.diverged.astype(float), levels=[0.5, 1.5],
                            colors="none", hatches=["xxx"])
            ax.set_xscale("log")
            ax.set_yscale("log")
            _rate_ticks(ax, "xy")
            ax.set_xlabel(ETA_IN_LABEL)
            ax.set_ylabel(ETA_LABEL)
        spec = np.isfinite(grid.t_spec).astype(float)
        axes[0].contour(eta_in, eta, spec, levels=[0.5], colors="w", linewidths=1.0)
        for p in sims or []:
            mean, _ = p.final_error
            ts = p.t_spec
            axes[0].scatter([p.eta_in], [p.eta], c=[mean], norm=eg_norm, cmap="viridis",
                            s=70, edgecolors="w", linewidths=1.5, zorder=4)
            tm = float(np.mean(ts)) if np.all(np.isfinite(ts)) else np.nan
            axes[1].scatter([p.eta_in], [p.eta], c=[tm if np.isfinite(tm) else 0.0],
                            norm=t_norm, cmap="magma", s=70, zorder=4,
                            edgecolors="c" if np.isfinite(tm) else "r", linewidths=1.5,
                            marker="o" if np.isfinite(tm) else "X")
        axes[0].set_title("theory: cells; simulation: circles", fontsize=8)
    return fig


__all__ = ["RateGrid", "rate_grid", "outer_rate_max", "error_vs_inner_rate",
           "inner_rate_bound", "SimPoint", "simulate_points", "plot_inner_stability",
           "plot_inner_rate", "plot_outer_rate", "plot_first_order", "plot_phase_diagram"]
