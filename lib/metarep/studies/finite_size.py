r"""Finite-size effects: the computations and figures of the chapter "Finite-size effects"
(``book/finite_size.md``).

Each run at finite N is compared with the ODE started from its own initial order parameters
(:func:`own_ode`): the RMS deviation over an early window (O(1/√N)), its √N-scaled time
course (amplified on the plateau), and the specialization times of runs and ODEs with the fit
α_spec = c + B ln N (:meth:`FiniteSize.plateau_fit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from metarep import drift, ode
from metarep.analysis import fit_line, rms_over_seeds, seed_stats, specialization_time
from metarep.config import Config
from metarep.linear import state_vector
from metarep.plotting import ALPHA_LABEL, style
from metarep.trajectory import Trajectory


def own_ode(sim: Trajectory, cfg: Config | None = None) -> Trajectory:
    """The ODE started from each run's own initial order parameters (Q, R, a at its first
    record) and recorded at its times: a Trajectory with the same seed axis as ``sim``.

    All runs are one vmapped integration (:func:`metarep.ode.integrate_batch`).
    """
    cfg = sim.config if cfg is None else cfg
    starts = ode.stack_states([(sim.Q[s, 0], sim.R[s, 0], sim.a[s, 0])
                               for s in range(len(sim.seeds))])
    T = sim.T if sim.T.ndim == 2 else None
    hypers = None if T is not None else ode.stack_hypers([drift.hyper(cfg, t) for t in sim.T])
    run = ode.integrate_batch(cfg, sim.alpha, states=starts, hypers=hypers, T=T,
                              labels=[f"seed {s}" for s in sim.seeds])
    return Trajectory(run.alpha, run.Q, run.R, run.a, run.eg, run.observables,
                      seeds=sim.seeds, config=cfg, T=sim.T)


@dataclass(frozen=True)
class FiniteSize:
    """Finite-size analysis of runs at several N, each against the ODE from its own start.

    N (n,); alpha (r,) record times; window: the deviation is measured for α ≤ window (before
    any run leaves the plateau); dev_curve: list over N of (r,) RMS over runs and entries
    Q_ij (i ≤ j), R_km of the deviation of each run from its own ODE, at every record;
    dev (n,), dev_se (n,): the same RMS over records α ≤ window, with its s.e. across runs;
    t_sim, t_ode: lists over N of (seeds,) specialization times (index reaches 1/2) of the
    runs and of their own ODEs (∞ if not reached); spec_sim, spec_ode: lists over N of
    (seeds, r) specialization indices.
    """

    N: np.ndarray
    alpha: np.ndarray
    window: float
    dev_curve: list
    dev: np.ndarray
    dev_se: np.ndarray
    t_sim: list
    t_ode: list
    spec_sim: list
    spec_ode: list

    def plateau_fit(self, which: str = "sim") -> tuple[float, float, float]:
        """Least-squares fit t_spec = c + B ln N over all runs: (B, s.e. of B, c).

        The s.e. comes from the residual scatter of the runs (ordinary least squares).
        ``which``: "sim" or "ode".
        """
        ts = self.t_sim if which == "sim" else self.t_ode
        x = np.concatenate([np.full(len(t), np.log(n)) for n, t in zip(self.N, ts)])
        y = np.concatenate(ts)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"some {which} runs never specialize: extend alpha_max")
        return fit_line(x, y)


def finite_size(sims: dict[int, Trajectory], window: float) -> FiniteSize:
    """Compare runs at several N (N → Trajectory with a seed axis, same records) with the
    ODE started from each run's own initial state (:func:`own_ode`)."""
    sizes = sorted(sims)
    alpha = sims[sizes[0]].alpha
    keep = alpha <= window
    out = {k: [] for k in ("curve", "dev", "se", "t_sim", "t_ode", "s_sim", "s_ode")}
    for N in sizes:
        sim = sims[N]
        if not np.allclose(sim.alpha, alpha):
            raise ValueError("all simulations must be recorded at the same times")
        th = own_ode(sim)
        d = np.asarray(state_vector(sim.Q, sim.R, sim.a, False)
                       - state_vector(th.Q, th.R, th.a, False))
        out["curve"].append(np.sqrt(np.mean(d**2, axis=(0, 2))))
        rms, se = rms_over_seeds(d[:, keep])
        out["dev"].append(rms)
        out["se"].append(se)
        s_sim, s_ode = sim.specialization(), th.specialization()
        out["s_sim"].append(s_sim)
        out["s_ode"].append(s_ode)
        out["t_sim"].append(specialization_time(alpha, s_sim))
        out["t_ode"].append(specialization_time(alpha, s_ode))
    return FiniteSize(np.array(sizes, dtype=float), alpha, float(window), out["curve"],
                      np.array(out["dev"]), np.array(out["se"]), out["t_sim"], out["t_ode"],
                      out["s_sim"], out["s_ode"])


def _size_colors(n: int):
    return plt.get_cmap("viridis")(np.linspace(0.0, 0.85, n))


def plot_finite_size_runs(fs: FiniteSize):
    """Left: specialization index of every run (solid) and of the ODE from its own initial
    state (dashed), coloured by N. Right: √N × the RMS deviation of the runs from their own
    ODEs against α; the curves collapse where the fluctuations are O(1/√N); the dotted line
    marks the window of :class:`FiniteSize`."""
    colors = _size_colors(len(fs.N))
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.2))
        ax = axes[0]
        for i, N in enumerate(fs.N):
            for s in range(fs.spec_sim[i].shape[0]):
                lab = f"simulation, N = {int(N)}" if s == 0 else None
                ax.plot(fs.alpha, fs.spec_sim[i][s], color=colors[i], lw=0.9, label=lab)
                ax.plot(fs.alpha, fs.spec_ode[i][s], color=colors[i], lw=0.9, ls="--",
                        label="ODE from the run's own start" if (s == 0 and i == 0) else None)
        ax.axhline(0.5, color="0.5", lw=0.6, ls=":")
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel("specialization index")
        ax.set_ylim(-0.02, 1.02)
        ax.legend()
        ax = axes[1]
        for i, N in enumerate(fs.N):
            ax.plot(fs.alpha, np.sqrt(N) * fs.dev_curve[i], color=colors[i],
                    label=f"N = {int(N)}")
        ax.axvline(fs.window, color="0.5", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"$\sqrt{N}\,\times$ RMS deviation of $Q, R$ from the ODE")
        ax.legend()
    return fig


def plot_finite_size_scaling(fs: FiniteSize):
    """Left: RMS deviation of single runs from their own ODE over α ≤ window against N
    (log-log, ±1 s.e.) with the 1/√N reference. Right: specialization time against N (log
    axis): runs (dots) and their own ODEs (crosses), means ±1 s.e., and the fits
    t = c + B ln N."""
    colors = _size_colors(len(fs.N))
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.2))
        ax = axes[0]
        ax.errorbar(fs.N, fs.dev, yerr=fs.dev_se, fmt="o", color="C0", mfc="white", mew=1.0,
                    elinewidth=0.8, label=rf"runs, $\alpha\leq{fs.window:g}$")
        ax.plot(fs.N, fs.dev[0] * np.sqrt(fs.N[0] / fs.N), "--", color="k", lw=0.9,
                label=r"$\propto 1/\sqrt{N}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(fs.N, [f"{int(n)}" for n in fs.N])
        ax.minorticks_off()
        ax.set_xlabel("input dimension $N$")
        ax.set_ylabel(r"RMS deviation of $Q, R$ from the ODE")
        ax.legend()
        ax = axes[1]
        grid = np.geomspace(fs.N[0], fs.N[-1], 50)
        for which, ts, mk, col, shift in (("sim", fs.t_sim, "o", "C3", 0.97),
                                          ("ode", fs.t_ode, "x", "k", 1.03)):
            label = "simulation" if which == "sim" else "ODE from the run's own start"
            for i, N in enumerate(fs.N):
                t = ts[i][np.isfinite(ts[i])]
                ax.plot(np.full(len(t), N * shift), t, mk, color=col, alpha=0.35, ms=3)
                if len(t) > 1:
                    st = seed_stats(t)
                    ax.errorbar(N * shift, st.mean, yerr=st.sem,
                                fmt=mk, color=col, ms=7, mew=1.5, elinewidth=1.2,
                                label=label if i == 0 else None, zorder=3)
            if all(np.all(np.isfinite(t)) for t in ts):
                B, B_se, c = fs.plateau_fit(which)
                ax.plot(grid, c + B * np.log(grid), color=col, lw=0.9,
                        ls="-" if which == "sim" else "--",
                        label=rf"fit: $({B:.1f}\pm{B_se:.1f})\,\ln N$ + const")
            elif not any(np.isfinite(t).any() for t in ts):
                ax.text(0.03, 0.97, f"{label}:\nno specialization up to "
                        rf"$\alpha = {fs.alpha[-1]:g}$", transform=ax.transAxes, fontsize=7.5,
                        color=col, va="top")
        ax.set_xscale("log")
        ax.set_xticks(fs.N, [f"{int(n)}" for n in fs.N])
        ax.minorticks_off()
        ax.set_xlabel("input dimension $N$")
        ax.set_ylabel(r"time to specialize $\alpha_\mathrm{spec}$")
        ax.legend(loc="lower right")
    return fig

__all__ = ["own_ode", "FiniteSize", "finite_size", "plot_finite_size_runs",
           "plot_finite_size_scaling"]
