r"""Why the plateau ends: the computations and figures of the chapter *Why the plateau ends:
symmetry breaking* (``book/symmetry_breaking.md``).

The linear analysis is in the core (:mod:`metarep.linear`): the teacher-symmetric subspace,
the plateau fixed point x* in it (:func:`metarep.linear.plateau_fixed_point`), the Jacobian
there and its even and odd modes (:func:`metarep.linear.modes`). Specialization is the growth
of the leading odd mode, at the rate λ; a perturbation of size δ along it leaves the plateau
after α ≈ (1/λ) ln(1/δ) + const (:func:`escape_scan`); from a random initialisation
δ = O(1/√N), hence a plateau growing like (1/2λ) ln N (:func:`size_scan_ode`,
:func:`size_scan_sim`).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from metarep import drift, linear, ode
from metarep.analysis import phases, seed_stats, specialization_time
from metarep.config import Config
from metarep.initial import initial_order_parameters
from metarep.linear import FixedPoint, Modes, state_from_vector, state_vector, symmetry_breaking
from metarep.plotting import ALPHA_LABEL, draw_sim, style
from metarep.trajectory import Trajectory


def relaxed_plateau(cfg: Config, guess, relax: float, T=None) -> FixedPoint:
    """The plateau fixed point (:func:`metarep.linear.plateau_fixed_point`) from ``guess``
    projected onto the teacher-symmetric subspace (R → row means) and first integrated for
    ``relax`` units of α inside that invariant subspace, where the plateau attracts."""
    Q, R, a = (np.asarray(v, dtype=float) for v in guess)
    R = np.outer(R.mean(axis=1), np.ones(cfg.M))
    run = ode.integrate_batch(cfg, np.array([0.0, relax]),
                              states=ode.stack_states([(Q, R, a)]), T=T)
    return linear.plateau_fixed_point(cfg, (run.Q[0, -1], run.R[0, -1], run.a[0, -1]), T=T)


def plateau_state(traj):
    """(Q, R, a) of a theory trajectory (no seed axis) on its plateau: the record between the
    end of the escape and the onset of specialization (:func:`metarep.analysis.phases`)
    where the state moves slowest."""
    ph = phases(traj)
    inside = np.flatnonzero((traj.alpha >= ph.escape) & (traj.alpha <= ph.onset))
    x = np.asarray(state_vector(traj.Q, traj.R, traj.a, True))
    speed = np.linalg.norm(np.gradient(x, traj.alpha, axis=0), axis=1)
    i = inside[np.argmin(speed[inside])]
    return traj.Q[i], traj.R[i], traj.a[i]


# -- escape from a controlled perturbation ----------------------------------------------------

@dataclass(frozen=True)
class EscapeScan:
    """ODE runs started at x* + δ u (u the leading odd mode): deltas (B,), alpha (n,),
    breaking (B, n) = :func:`symmetry_breaking` of R, s (B, n) specialization index, eg (B, n),
    t_spec (B,) first α with s ≥ ½."""

    deltas: np.ndarray
    alpha: np.ndarray
    breaking: np.ndarray
    s: np.ndarray
    eg: np.ndarray
    t_spec: np.ndarray


def escape_scan(cfg: Config, fp: FixedPoint, md: Modes, deltas, alphas) -> EscapeScan:
    """Integrate the ODE from the fixed point displaced by δ along the leading odd mode, for
    each δ in ``deltas`` (one vmapped integration)."""
    K, M = cfg.K, cfg.M
    learn_head = cfg.eta_head > 0
    x0 = np.asarray(state_vector(fp.Q, fp.R, fp.a, learn_head))
    u = md.vectors[:, md.lead]
    starts = [state_from_vector(x0 + d * u, K, M, fp.a, learn_head) for d in deltas]
    run = ode.integrate_batch(cfg, alphas, states=ode.stack_states(starts))
    s = run.observables["specialization"]
    return EscapeScan(np.asarray(deltas, dtype=float), run.alpha, symmetry_breaking(run.R), s,
                      run.eg, specialization_time(run.alpha, s))


# -- escape from a random initialisation at finite N ------------------------------------------

def size_scan_ode(cfg: Config, Ns, seeds, alphas):
    """The ODE started from the random initial overlaps of each (N, seed) — the only trace of
    N in the ODE is its initial condition. Returns (specialization times (len(Ns),
    len(seeds)), the trajectory of the first seed at the largest N as
    :class:`~metarep.trajectory.Trajectory`)."""
    ops = [initial_order_parameters(cfg.replace(N=int(n), seed=int(s)))
           for n in Ns for s in seeds]
    run = ode.integrate_batch(cfg, alphas,
                              states=ode.stack_states([(o.Q, o.R, o.a) for o in ops]),
                              hypers=ode.stack_hypers([drift.hyper(cfg, o.T) for o in ops]),
                              labels=[f"N = {n}, seed {s}" for n in Ns for s in seeds])
    t = specialization_time(run.alpha, run.observables["specialization"])
    i = (len(Ns) - 1) * len(seeds)
    one = Trajectory(run.alpha, run.Q[i], run.R[i], run.a[i], run.eg[i],
                     {k: v[i] for k, v in run.observables.items()},
                     config=cfg.replace(N=int(Ns[-1]), seed=int(seeds[0])), T=run.T[i])
    return t.reshape(len(Ns), len(seeds)), one


def size_scan_sim(cfg: Config, Ns, seeds, alpha_max: float, record_every: float = 1.0):
    """Specialization times (len(Ns), len(seeds)) of simulations at each N (seeds vmapped; one
    compilation per N). The meta-test error is not needed and is not estimated. ∞ where a run
    has not specialized by ``alpha_max``."""
    from metarep.simulator import simulate

    out = []
    for n in Ns:
        c = cfg.replace(N=int(n), alpha_max=alpha_max, record_every=record_every)
        sim = simulate(c, seeds=[int(s) for s in seeds], progress=False, eg_tasks=0)
        out.append(specialization_time(sim.alpha, sim.specialization()))
    return np.array(out)


# -- figures ----------------------------------------------------------------------------------

def plot_spectrum(md: Modes, K: int, M: int, learn_head: bool):
    """(a) Eigenvalues of the Jacobian at the plateau (odd modes filled, even open), (b) the
    R part of the leading odd mode as a K×M matrix."""
    with style():
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.2, 2.8),
                                      gridspec_kw={"width_ratios": [2.2, 1]})
        idx = np.arange(len(md.eigenvalues))
        ev = md.eigenvalues.real
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.plot(idx[md.odd], ev[md.odd], "o", color="C3",
                label="odd: breaks the teacher symmetry")
        ax.plot(idx[~md.odd], ev[~md.odd], "o", color="C0", mfc="white",
                label="even: inside the symmetric subspace")
        ax.annotate(rf"$\lambda = {md.rate:.3g}$", (md.lead, md.rate), xytext=(8, -4),
                    textcoords="offset points", fontsize=8)
        ax.set_xlabel("mode (sorted by growth rate)")
        ax.set_ylabel("Re eigenvalue (per unit $\\alpha$)")
        ax.legend(loc="lower left")
        R = np.asarray(state_from_vector(md.vectors[:, md.lead], K, M, np.zeros(K),
                                         learn_head).R)
        R = R / np.abs(R).max()
        im = ax2.imshow(R, cmap="RdBu_r", vmin=-1, vmax=1)
        for (k, m), v in np.ndenumerate(R):
            ax2.text(m, k, f"{v:+.2f}", ha="center", va="center", fontsize=8,
                     color="w" if abs(v) > 0.6 else "k")
        ax2.set_xticks(range(M))
        ax2.set_yticks(range(K))
        ax2.set_xlabel("teacher unit $m$")
        ax2.set_ylabel("student unit $k$")
        ax2.set_title(r"leading odd mode: $\delta R_{km}$", fontsize=8)
        fig.colorbar(im, ax=ax2, shrink=0.8)
    return fig


def plot_escape(scan: EscapeScan, rate: float, intercept: float):
    """(a) Distance from the teacher-symmetric subspace vs α for each δ (log scale) with the
    linear prediction δ·e^{λα} (dashed); (b) specialization time vs ln(1/δ): ODE points and
    the line (1/λ) ln(1/δ) + ``intercept``."""
    cmap = plt.get_cmap("viridis")
    n = len(scan.deltas)
    with style():
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8.0, 3.0))
        for i, d in enumerate(scan.deltas):
            col = cmap(i / max(n - 1, 1))
            ax.plot(scan.alpha, scan.breaking[i], color=col, label=rf"$\delta = 10^{{{np.log10(d):.0f}}}$")
            lin = d * np.exp(rate * scan.alpha)
            keep = lin < 3 * np.nanmax(scan.breaking)
            ax.plot(scan.alpha[keep], lin[keep], color=col, ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"$\|R - \bar R\,\mathbf{1}^\top\|$ (symmetry breaking)")
        ax.legend(ncol=2, fontsize=6.5, loc="lower right")
        x = np.log(1.0 / scan.deltas)
        xx = np.linspace(0.0, x.max() * 1.05, 50)
        ax2.plot(xx, xx / rate + intercept, color="k",
                 label=rf"$\frac{{1}}{{\lambda}}\ln\frac{{1}}{{\delta}}$ + const, $\lambda = {rate:.3g}$")
        ax2.plot(x, scan.t_spec, "o", color="C3", mfc="white", label="ODE from $x^* + \\delta u$")
        ax2.set_xlabel(r"$\ln(1/\delta)$")
        ax2.set_ylabel(r"specialization time $\alpha_s$ ($s = 1/2$)")
        ax2.legend(loc="upper left")
    return fig


def plot_size_scaling(Ns, t_ode, t_sim, rate: float, intercept: float,
                      rate_name: str = r"\lambda"):
    """Specialization time vs N (log axis): ODE from random finite-N initial states (mean ±
    s.e. over seeds, line-free markers), simulations (mean ± s.e.), and the line
    (1/2λ) ln N + ``intercept``. t_ode (len(Ns), seeds), t_sim (len(Ns_sim), seeds) with
    ``t_sim = (Ns_sim, times)`` or None. ``rate_name``: TeX name of the rate in the legend."""
    Ns = np.asarray(Ns, dtype=float)
    with style():
        fig, ax = plt.subplots(figsize=(4.6, 3.2))
        nn = np.geomspace(Ns.min() / 1.5, Ns.max() * 1.5, 50)
        ax.plot(nn, np.log(nn) / (2 * rate) + intercept, color="k",
                label=rf"$\frac{{1}}{{2{rate_name}}}\ln N$ + const, ${rate_name} = {rate:.3g}$")

        def stats(t):
            st = seed_stats(np.where(np.isfinite(t), t, np.nan), axis=1)
            return st.mean, st.sem

        m, e = stats(np.asarray(t_ode))
        ax.errorbar(Ns, m, e, fmt="s", color="C0", mfc="white",
                    label=f"ODE from random init ({np.shape(t_ode)[1]} seeds)")
        if t_sim is not None:
            ns, ts = t_sim
            m, e = stats(np.asarray(ts))
            draw_sim(ax, np.asarray(ns, dtype=float) * 1.04, m, e, "C3",
                     f"simulation ({np.shape(ts)[1]} seeds)")
        ax.set_xscale("log")
        ax.set_xlabel("input dimension $N$")
        ax.set_ylabel(r"specialization time $\alpha_s$")
        ax.legend(loc="upper left")
    return fig


__all__ = ["relaxed_plateau", "plateau_state", "EscapeScan", "escape_scan", "size_scan_ode",
           "size_scan_sim", "plot_spectrum", "plot_escape", "plot_size_scaling"]
