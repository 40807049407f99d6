r"""Meta-training dynamics: the comparisons and figures of the chapter *Meta-training
dynamics and the birth of a shared representation* (``book/dynamics.md``).

The computations are in the core: the ODE from each simulation seed's initial state
(:func:`metarep.ode.integrate_seeds`), canonical unit labels
(:func:`metarep.alignment.canonical_units`), specialization times and the four phases of a
run (:func:`metarep.analysis.specialization_time`, :func:`metarep.analysis.phases`), the
theory-agreement test of the statistics policy (:func:`metarep.analysis.agreement`) and the
removal of the finite-N bias measured at a second size
(:func:`metarep.analysis.size_extrapolation`). This module adds what the chapter compares:
the times at which the phases are shown (:func:`phase_times`) and the deviations of the
simulations from their ODEs on the plateau and in the final state (:func:`deviations`).

Figures: :func:`plot_dynamics` (error, specialization index, cosines, head and norms with the
phases marked), :func:`plot_overlap_heatmaps` (the cosine matrices at chosen times) and
:func:`plot_specialization_times` (the simulations' specialization times against their
ODEs').
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from metarep.analysis import Phases
from metarep.plotting import ALPHA_LABEL, draw_sim, seed_mean_sem, style, unit_colors
from metarep.trajectory import Trajectory


# -- what the chapter compares ----------------------------------------------------------------

def phase_times(ph: Phases, alpha) -> np.ndarray:
    """Record times that show each phase of a run: the records of ``alpha`` (increasing)
    nearest to the start, the middle of the plateau, the middle of the specialization phase
    and the end."""
    alpha = np.asarray(alpha, dtype=float)
    want = [alpha[0], 0.5 * (ph.escape + ph.onset), 0.5 * (ph.onset + ph.specialized), alpha[-1]]
    return alpha[[int(np.argmin(np.abs(alpha - t))) for t in want]]


def deviations(sim: Trajectory, theory: Trajectory, plateau: float,
               level: float = 0.1) -> dict[str, np.ndarray]:
    """Per-seed deviations simulation − ODE (each seed's ODE from its own initial state) of
    the quantities the chapter compares, as {name: (seeds,) array}.

    ``plateau_eg``: the meta-test error at the record nearest α = ``plateau``, NaN for the
    seeds whose simulation or ODE has already left the plateau there (specialization index
    ≥ ``level``): escape times fluctuate by O(1) in α from run to run, so only runs on the
    plateau compare its level. ``final_eg`` and the entries ``Q_k_l`` (k ≤ l), ``R_k_m``,
    ``a_k`` of the final state: both trajectories must carry canonical unit labels
    (:func:`metarep.alignment.canonical_units`). The simulation's ``eg`` must be set (e.g. the
    closed-form error of its states); the theory must be recorded at the simulation's times
    (a superset is fine).
    """
    idx = np.searchsorted(theory.alpha, sim.alpha)
    if not np.allclose(theory.alpha[np.minimum(idx, len(theory.alpha) - 1)], sim.alpha):
        raise ValueError("the theory is not recorded at the simulation's times")
    i = int(np.argmin(np.abs(sim.alpha - plateau)))
    j = idx[i]
    on = (sim.specialization()[:, i] < level) & (theory.specialization()[:, j] < level)
    out = {"plateau_eg": np.where(on, sim.eg[:, i] - theory.eg[:, j], np.nan),
           "final_eg": sim.eg[:, -1] - theory.eg[:, idx[-1]]}
    K, M = sim.K, sim.M
    for name, x, y in (("Q", sim.Q, theory.Q), ("R", sim.R, theory.R), ("a", sim.a, theory.a)):
        last = x[:, -1] - y[:, idx[-1]]
        if name == "Q":
            out.update({f"Q_{k}_{l}": last[:, k, l] for k in range(K) for l in range(k, K)})
        elif name == "R":
            out.update({f"R_{k}_{m}": last[:, k, m] for k in range(K) for m in range(M)})
        else:
            out.update({f"a_{k}": last[:, k] for k in range(K)})
    return out


# -- figures ----------------------------------------------------------------------------------

_PHASE_NAMES = ("escape", "plateau", "specialization", "convergence")
_PHASE_SHADES = ("#f2f2f2", "#ffffff", "#fbe9d7", "#ffffff")


def _mark_phases(ax, ph: Phases, alpha_max: float, labels: bool) -> None:
    edges = [0.0, ph.escape, ph.onset, ph.specialized, alpha_max]
    for i, name in enumerate(_PHASE_NAMES):
        if _PHASE_SHADES[i] != "#ffffff":
            ax.axvspan(edges[i], edges[i + 1], color=_PHASE_SHADES[i], zorder=0, lw=0)
        if labels:
            ax.text(0.5 * (edges[i] + edges[i + 1]), 1.0, name, transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=7, rotation=0, color="0.35")
    for x in edges[1:-1]:
        ax.axvline(x, color="0.6", lw=0.6, ls=":", zorder=1)


def plot_dynamics(theory: Trajectory, sim: Trajectory | None = None, ph: Phases | None = None,
                  every: int = 1):
    """Four panels of meta-training: theory lines, simulation markers (seed mean ± 1 s.e.).

    ``theory``: ODE runs, with a seed axis (:func:`metarep.ode.integrate_seeds`, one run per
    seed) or without; ``sim``: the simulation of the same seeds. Both should be passed
    through :func:`metarep.alignment.canonical_units` so that unit k is the one that ends aligned with teacher
    unit k in every run. (a) meta-test error; (b) specialization index; (c) cosines
    R_km/√(Q_kk T_mm); (d) head a_k and norms Q_kk — each averaged over seeds. ``ph``: phases
    to shade (e.g. of the seed-averaged theory). Markers are thinned to every ``every``-th
    record.
    """
    K, M = theory.K, theory.M
    colors = unit_colors(max(K, M))
    ths = theory.has_seeds
    n_th = len(theory.seeds) if ths else 1
    th = {"eg": theory.eg, "s": theory.specialization(),
          "cos": theory.cosines(), "a": theory.a,
          "q": np.diagonal(theory.Q, axis1=-2, axis2=-1)}
    th = {k: seed_mean_sem(v, ths)[0] for k, v in th.items()}
    if sim is not None:
        sm = {"eg": sim.eg, "s": sim.specialization(),
              "cos": sim.cosines(), "a": sim.a, "q": np.diagonal(sim.Q, axis1=-2, axis2=-1)}
        sm = {k: seed_mean_sem(v, sim.has_seeds) for k, v in sm.items()}
    with style():
        fig, axes = plt.subplots(2, 2, figsize=(8.0, 5.4), sharex=True)
        (ax_e, ax_s), (ax_c, ax_h) = axes
        ax_e.plot(theory.alpha, th["eg"], color="k", label="theory (ODE)" if n_th == 1 else
                  f"theory (ODE, mean of {n_th} initial states)")
        ax_s.plot(theory.alpha, th["s"], color="k", label="theory")
        if sim is not None:
            n_sim = len(sim.seeds) if sim.has_seeds else 1
            draw_sim(ax_e, sim.alpha, *sm["eg"], "C3",
                     f"simulation, N = {sim.config.N}, {n_sim} seeds", every)
            draw_sim(ax_s, sim.alpha, *sm["s"], "C3", "simulation", every)
        ax_e.set_yscale("log")
        ax_e.set_ylabel(r"meta-test error $\epsilon_g$")
        ax_s.set_ylabel("specialization index $s$")
        ax_s.set_ylim(-0.03, 1.03)
        styles = ["-", "--", ":", "-."]
        for k in range(K):
            for m in range(M):
                ax_c.plot(theory.alpha, th["cos"][:, k, m], color=colors[m], ls=styles[k % 4],
                          label=f"unit {k}, teacher {m}")
                if sim is not None:
                    mean, sem = sm["cos"]
                    draw_sim(ax_c, sim.alpha, mean[:, k, m], None if sem is None
                             else sem[:, k, m], colors[m], None, every)
        ax_c.set_ylabel(r"cosine $R_{km}/\sqrt{Q_{kk}T_{mm}}$")
        ax_c.set_ylim(-1.05, 1.05)
        for k in range(K):
            ax_h.plot(theory.alpha, th["a"][:, k], color=colors[k], ls="--",
                      label=f"head $a_{k}$")
            ax_h.plot(theory.alpha, th["q"][:, k], color=colors[k],
                      label=f"norm $Q_{{{k}{k}}}$")
            if sim is not None:
                for key in ("a", "q"):
                    mean, sem = sm[key]
                    draw_sim(ax_h, sim.alpha, mean[:, k], None if sem is None else sem[:, k],
                             colors[k], None, every)
        ax_h.set_ylabel("head $a_k$, norm $Q_{kk}$")
        for ax in axes.ravel():
            if ph is not None:
                _mark_phases(ax, ph, float(theory.alpha[-1]), labels=ax in (ax_e, ax_s))
            ax.legend(ncol=2 if ax in (ax_c, ax_h) else 1, loc="best")
        for ax in axes[1]:
            ax.set_xlabel(ALPHA_LABEL)
    return fig


def plot_overlap_heatmaps(theory: Trajectory, times, sim: Trajectory | None = None,
                          seed_index: int = 0):
    """Cosine matrices cos_km = R_km/√(Q_kk T_mm) at chosen ``times`` (nearest records).

    Top row: theory; bottom row (if ``sim``): the simulation of the same seed. Rows index the
    meta-learner's units k, columns the meta-teacher's units m; colour from −1 to 1, the value
    written in each cell.
    """
    rows = [("theory", theory)] + ([("simulation", sim)] if sim is not None else [])
    times = list(times)
    with style():
        fig, axes = plt.subplots(len(rows), len(times), squeeze=False,
                                 figsize=(1.6 * len(times) + 0.8, 1.7 * len(rows) + 0.3))
        for r, (name, tr) in enumerate(rows):
            cos = tr.cosines()
            if tr.has_seeds:
                cos = cos[seed_index]
            for c, t in enumerate(times):
                i = int(np.argmin(np.abs(tr.alpha - t)))
                ax = axes[r, c]
                im = ax.imshow(cos[i], vmin=-1, vmax=1, cmap="RdBu_r")
                for (k, m), v in np.ndenumerate(cos[i]):
                    ax.text(m, k, f"{v:.2f}", ha="center", va="center", fontsize=7,
                            color="w" if abs(v) > 0.6 else "k")
                ax.set_xticks(range(tr.M))
                ax.set_yticks(range(tr.K))
                if r == 0:
                    ax.set_title(rf"$\alpha = {tr.alpha[i]:.4g}$")
                if r == len(rows) - 1:
                    ax.set_xlabel("teacher unit $m$")
                if c == 0:
                    ax.set_ylabel(f"{name}\nunit $k$")
        fig.colorbar(im, ax=axes, shrink=0.8, label="cosine")
    return fig


def plot_specialization_times(t_theory, t_sim, N: int):
    """Specialization times α_s of the simulations against those of their ODEs (one point
    per seed, the ODE from that seed's initial state), (a) paired, with the diagonal; (b) as
    empirical distribution functions. ``t_theory``, ``t_sim`` (seeds,)."""
    t_theory, t_sim = np.asarray(t_theory, dtype=float), np.asarray(t_sim, dtype=float)
    with style():
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.2, 3.0))
        lo = min(t_theory.min(), t_sim.min()) * 0.9
        hi = max(t_theory.max(), t_sim.max()) * 1.05
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, label="simulation = ODE")
        ax.plot(t_theory, t_sim, "o", color="C3", mfc="white", label="one seed")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(r"ODE from the seed's initial state: $\alpha_s$")
        ax.set_ylabel(rf"simulation, $N = {N}$: $\alpha_s$")
        ax.legend(loc="upper left")
        for t, color, fmt, name in ((t_theory, "k", "-", "theory (ODE)"),
                                    (t_sim, "C3", "--", f"simulation, N = {N}")):
            x = np.sort(t)
            ax2.step(x, np.arange(1, len(x) + 1) / len(x), where="post", color=color, ls=fmt,
                     label=f"{name}, {len(x)} seeds")
        ax2.set_xlabel(r"specialization time $\alpha_s$ (tasks / $N$)")
        ax2.set_ylabel("fraction of runs specialized")
        ax2.set_ylim(0.0, 1.02)
        ax2.legend(loc="lower right")
    return fig


__all__ = ["phase_times", "deviations", "plot_dynamics", "plot_overlap_heatmaps",
           "plot_specialization_times"]
