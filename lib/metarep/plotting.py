"""Figure style and the standard overview figure of a run.

Every figure function takes trajectories (or arrays) and returns a
:class:`matplotlib.figure.Figure`; it never computes science itself. Theory is drawn as lines,
simulations as markers with error bars (seed mean ± one standard error).
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from metarep.analysis import seed_stats
from metarep.trajectory import Trajectory

#: rcParams shared by every figure of the book.
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "lines.linewidth": 1.5,
    "lines.markersize": 3.5,
    "errorbar.capsize": 0,
    "figure.constrained_layout.use": True,
}

ALPHA_LABEL = r"$\alpha$ (tasks / $N$)"
ETA_LABEL = r"outer rate $\eta$"
ETA_IN_LABEL = r"inner rate $\eta_\mathrm{in}$"
STIFF_LABEL = r"stiffness $\eta_\mathrm{in}\lambda_\mathrm{max}(C)$"
TSPEC_LABEL = r"time to specialize $\alpha_\mathrm{spec}$"
EG_FINAL_LABEL = r"final meta-test error $\epsilon_g(\alpha_\mathrm{max})$"


@contextmanager
def style():
    """Context manager applying :data:`STYLE` (figures keep it after they are made).

    Only the keys of :data:`STYLE` are restored on exit. (``matplotlib.rc_context`` restores
    every parameter: when the first figure of a Jupyter kernel is made inside it, the inline
    backend's activation is undone on exit, and every later figure is silently dropped.)
    """
    saved = {key: mpl.rcParams[key] for key in STYLE}
    mpl.rcParams.update(STYLE)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


def unit_colors(n: int) -> list:
    """Distinct colours for n units (teacher units index colour throughout the book)."""
    cmap = plt.get_cmap("tab10")
    return [cmap(i % 10) for i in range(n)]


def label_error_and_specialization(ax_error, ax_spec, ylim=(-0.03, 1.03)) -> None:
    """Axes of the common pair of panels against α: the meta-test error (log scale) and the
    specialization index (limits ``ylim``)."""
    ax_error.set_yscale("log")
    ax_error.set_ylabel(r"meta-test error $\epsilon_g$")
    ax_spec.set_ylabel("specialization index")
    ax_spec.set_ylim(*ylim)
    for ax in (ax_error, ax_spec):
        ax.set_xlabel(ALPHA_LABEL)


def draw_sim(ax, alpha, mean, sem, color, label=None, every: int = 1,
             marker: str = "o") -> None:
    """Simulation markers with ±1 s.e. bars, thinned to every ``every``-th record."""
    sl = slice(None, None, every)
    ax.errorbar(alpha[sl], mean[sl], yerr=None if sem is None else sem[sl], fmt=marker,
                color=color, mfc="white", mew=1.0, elinewidth=0.8, label=label, zorder=3)


#: Marker of unit k in simulation panels (colours index teacher units, or units).
UNIT_MARKERS = ("o", "s", "^", "D")


def seed_mean_sem(x, has_seeds: bool):
    """(mean, s.e.) over the seed axis of ``x`` (``sem`` None without seeds)."""
    if not has_seeds:
        return x, None
    st = seed_stats(x)
    return st.mean, st.sem


def plot_overview(ode: Trajectory | None = None, sim: Trajectory | None = None,
                  sim_every: int | None = None):
    """Three panels of one run: meta-test error, student–teacher cosines, Q and head a.

    ``ode``: a theory trajectory (lines); ``sim``: a simulation with a seed axis (markers,
    seed mean ± s.e.; the cosines are averaged per seed, so pass both through
    :func:`metarep.alignment.canonical_units` first). Either may be omitted. Unit k's
    simulated cosines have the marker ``UNIT_MARKERS[k]``, the norms circles and the heads
    squares. Returns the figure.
    """
    if ode is None and sim is None:
        raise ValueError("plot_overview needs an ODE trajectory, a simulation, or both")
    ref = ode if ode is not None else sim
    K, M = ref.K, ref.M
    colors = unit_colors(max(K, M))
    mean = sem = None
    if sim is not None:
        mean, sem = (sim.seed_mean(), sim.seed_sem()) if sim.has_seeds else (sim, None)
        sim_every = sim_every or max(1, len(sim.alpha) // 25)
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(9.0, 2.8))
        ax = axes[0]
        if ode is not None:
            ax.plot(ode.alpha, ode.eg, color="k", label="theory (ODE)")
        if mean is not None:
            draw_sim(ax, mean.alpha, mean.eg, None if sem is None else sem.eg, "C3",
                     f"simulation, N = {sim.config.N}" if sim.config else "simulation",
                     sim_every)
        ax.set_yscale("log")
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"meta-test error $\epsilon_g$")
        ax.legend()

        ax = axes[1]
        cos = None if sim is None else seed_mean_sem(sim.cosines(), sim.has_seeds)
        for k in range(K):
            for m in range(M):
                style_km = dict(color=colors[m], ls=["-", "--", ":", "-."][k % 4])
                if ode is not None:
                    ax.plot(ode.alpha, ode.cosines()[..., k, m], **style_km,
                            label=f"$k={k}, m={m}$")
                if cos is not None:
                    draw_sim(ax, sim.alpha, cos[0][..., k, m],
                             None if cos[1] is None else cos[1][..., k, m], colors[m],
                             label=None if ode is not None else f"$k={k}, m={m}$",
                             every=sim_every, marker=UNIT_MARKERS[k % 4])
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"cosine $R_{km}/\sqrt{Q_{kk}T_{mm}}$")
        ax.set_ylim(-1.05, 1.05)
        ax.legend(ncol=2 if K * M > 4 else 1)

        ax = axes[2]
        for k in range(K):
            if ode is not None:
                ax.plot(ode.alpha, ode.Q[..., k, k], color=colors[k], label=f"$Q_{{{k}{k}}}$")
                ax.plot(ode.alpha, ode.a[..., k], color=colors[k], ls="--", label=f"$a_{k}$")
            if mean is not None:
                lab = ode is None
                draw_sim(ax, mean.alpha, mean.Q[..., k, k],
                         None if sem is None else sem.Q[..., k, k], colors[k],
                         f"$Q_{{{k}{k}}}$" if lab else None, sim_every, "o")
                draw_sim(ax, mean.alpha, mean.a[..., k], None if sem is None else sem.a[..., k],
                         colors[k], f"$a_{k}$" if lab else None, sim_every, "s")
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel("norms $Q_{kk}$, head $a_k$")
        ax.legend(ncol=2)
    return fig
