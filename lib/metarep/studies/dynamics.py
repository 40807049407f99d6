r"""Meta-training dynamics: phases of a run, specialization times, and their figures.

Computations for the chapter *Meta-training dynamics and the birth of a shared
representation* (``book/dynamics.md``):

* :func:`integrate_seeds` — the ODE started from the initial state of each simulation seed
  (same seed and N, hence the same numbers as the simulator's start), all seeds in one
  vmapped integration;
* :func:`crossing_time` — first time a recorded quantity reaches a level (linear
  interpolation between records), e.g. the specialization time α_s where the specialization
  index s (:func:`metarep.observables.specialization_index`) first reaches ½;
* :func:`phases` — the four phases of a run read off a theory trajectory: initial escape,
  unspecialized plateau, specialization, convergence.

Figures: :func:`plot_dynamics` (error, specialization index, cosines, head and norms with the
phases marked) and :func:`plot_overlap_heatmaps` (the cosine matrices at chosen times).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from metarep import ode
from metarep.config import Config
from metarep.errors import DivergenceError
from metarep.initial import initial_order_parameters
from metarep.plotting import ALPHA_LABEL, draw_sim, style, unit_colors
from metarep.trajectory import Trajectory


# -- batched ODE ------------------------------------------------------------------------------

@partial(jax.jit, static_argnames=("steps", "first_order"))
def _solve_batch(Q, R, a, hp, grid, dt, steps, first_order):
    """ode.solve_and_observe vmapped over initial states Q (B,K,K), R (B,K,M), a (B,K)."""
    def one(q, r, h):
        return ode.solve_and_observe(ode.State(q, r, h), hp, grid, dt, steps, first_order)
    return jax.vmap(one)(Q, R, a)


def integrate_batch(cfg: Config, Q0, R0, a0, alphas, T=None, pad_to: int | None = None):
    """Integrate the ODE of ``cfg`` from a batch of initial states in one vmapped call.

    Q0 (B, K, K), R0 (B, K, M), a0 (B, K); ``alphas`` (n,) record times starting at 0.
    Returns (Q (B, n, K, K), R (B, n, K, M), a (B, n, K), eg (B, n), extra) as NumPy arrays,
    ``extra`` the observables of :func:`metarep.observables.record_observables` (B, n) each.
    One compilation per (K, M, S, first_order, B, n): with ``pad_to`` the batch is padded
    (by repeating its first state) to that size and the padding dropped from the result, so
    that calls with different batch sizes share one compiled program. Raises
    :class:`~metarep.errors.DivergenceError` if any run diverges (:func:`metarep.ode.diverged`).
    """
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas[0] != 0 or np.any(np.diff(alphas) <= 0):
        raise ValueError("alphas must be increasing and start at 0")
    hp = ode.hyper(cfg, T)
    args = [np.asarray(x, dtype=float) for x in (Q0, R0, a0)]
    size = len(args[0])
    if pad_to is not None:
        if pad_to < size:
            raise ValueError(f"pad_to = {pad_to} is smaller than the batch ({size})")
        args = [np.concatenate([x, np.repeat(x[:1], pad_to - size, axis=0)]) for x in args]
    states, eg, extra = _solve_batch(*(jnp.asarray(x) for x in args), hp, jnp.asarray(alphas),
                                     cfg.dt, cfg.inner_steps, cfg.first_order)
    states, eg = jax.tree_util.tree_map(lambda x: x[:size], (states, eg))
    extra = {k: v[:size] for k, v in extra.items()}
    bad = np.asarray(jax.vmap(lambda s, e: ode.diverged(s, e, hp.dist))(states, eg))
    if bad.any():
        b, i = np.argwhere(bad)[0]
        raise DivergenceError(f"ODE run {b} of the batch diverged at α ≈ {alphas[i]:.4g}")
    Q, R, a, eg = (np.asarray(x) for x in (*states, eg))
    return Q, R, a, eg, {k: np.asarray(v) for k, v in extra.items()}


def integrate_seeds(cfg: Config, seeds, alphas, pad_to: int | None = None) -> Trajectory:
    """The ODE from the initial state of each seed (cfg.N, ``seeds`` a sequence of ints).

    Seed s starts from :func:`metarep.initial.initial_order_parameters` of
    ``cfg.replace(seed=s)``, the very overlaps the simulator starts from. Returns a
    :class:`~metarep.trajectory.Trajectory` with a seed axis (theory, one run per seed).
    """
    seeds = [int(s) for s in seeds]
    ops = [initial_order_parameters(cfg.replace(seed=s)) for s in seeds]
    T = ops[0].T
    Q, R, a, eg, extra = integrate_batch(cfg, [o.Q for o in ops], [o.R for o in ops],
                                         [o.a for o in ops], alphas, T=T, pad_to=pad_to)
    return Trajectory(np.asarray(alphas, dtype=float), Q, R, a, eg, observables=extra,
                      seeds=np.array(seeds), config=cfg, T=T)


def canonical_units(traj: Trajectory) -> Trajectory:
    """Relabel and reflect the meta-learner's units of each run so that, at the last record,
    unit k is the one most aligned with teacher unit k (for k < min(K, M)) with a positive
    cosine.

    The meta-loss is invariant under permutations of the hidden units and under the
    reflection (W_k, a_k) → (−W_k, −a_k) (g is odd), so this changes no observable; it lets
    runs that broke the symmetry differently be compared and averaged. Unit k's permutation
    and sign are fixed per run (seed) and applied to every record:
    Q → σσᵀ ∘ Q[π][:, π], R → σ R[π], a → σ a[π].
    """
    cos = traj.cosines()
    lead = () if not traj.has_seeds else (len(traj.seeds),)
    Q, R, a = traj.Q.copy(), traj.R.copy(), traj.a.copy()
    for idx in np.ndindex(*lead):
        c = np.abs(cos[idx][-1])                         # (K, M) at the last record
        order, free = [], list(range(traj.K))
        for m in range(min(traj.K, traj.M)):
            k = max(free, key=lambda u: c[u, m])
            order.append(k)
            free.remove(k)
        order += sorted(free, key=lambda u: -c[u].max())
        perm = np.array(order)
        last = cos[idx][-1][perm]
        sign = np.sign(last[np.arange(traj.K), np.argmax(np.abs(last), axis=1)])
        sign[sign == 0] = 1.0
        Q[idx] = traj.Q[idx][:, perm][:, :, perm] * np.outer(sign, sign)
        R[idx] = traj.R[idx][:, perm] * sign[:, None]
        a[idx] = traj.a[idx][:, perm] * sign
    return traj.replace(Q=Q, R=R, a=a)


# -- times and phases -------------------------------------------------------------------------

def crossing_time(alpha, x, level: float):
    """First time at which x reaches ``level`` from below, linearly interpolated.

    alpha (n,), x (..., n) → (...,) float array; NaN where x never reaches the level (and
    alpha[0] where it starts above it).
    """
    alpha = np.asarray(alpha, dtype=float)
    x = np.asarray(x, dtype=float)
    above = x >= level
    idx = np.argmax(above, axis=-1)
    reached = above.any(axis=-1)
    i1 = np.maximum(idx, 1)
    x0 = np.take_along_axis(x, (i1 - 1)[..., None], -1)[..., 0]
    x1 = np.take_along_axis(x, i1[..., None], -1)[..., 0]
    frac = np.clip((level - x0) / np.where(x1 != x0, x1 - x0, 1.0), 0.0, 1.0)
    t = alpha[i1 - 1] + frac * (alpha[i1] - alpha[i1 - 1])
    t = np.where(idx == 0, alpha[0], t)
    return np.where(reached, t, np.nan)


@dataclass(frozen=True)
class Phases:
    """Boundaries (in α) of the four phases of a meta-training run.

    escape: end of the initial escape — the error has covered 90 % of its drop from ε_g(0)
    to the plateau level ``eg_plateau``; onset: the specialization index reaches
    ``levels[0]``; specialized: it reaches ``levels[1]`` (convergence follows).
    ``eg_plateau`` is the error where it changes slowest between the escape and the onset.
    """

    escape: float
    onset: float
    specialized: float
    eg_plateau: float
    levels: tuple[float, float] = (0.1, 0.9)


def phases(traj: Trajectory, levels: tuple[float, float] = (0.1, 0.9)) -> Phases:
    """The phases of a theory trajectory (no seed axis), from its error and its
    ``specialization`` observable. Raises ValueError if the run never specializes to
    ``levels[1]`` or has no plateau before the onset."""
    if traj.has_seeds:
        raise ValueError("phases needs one trajectory without a seed axis")
    alpha, eg = traj.alpha, traj.eg
    s = traj.observables["specialization"]
    onset, done = (float(crossing_time(alpha, s, lv)) for lv in levels)
    if not np.isfinite(done):
        raise ValueError(f"the run does not reach specialization index {levels[1]} by "
                         f"α = {alpha[-1]:g}")
    before = alpha < onset
    if before.sum() < 3:
        raise ValueError("no plateau before the onset of specialization")
    slope = np.abs(np.gradient(eg, alpha))
    first = np.argmax(eg < eg[0] - 0.5 * (eg[0] - eg[before].min()))   # past the steep drop
    window = np.arange(len(alpha))[before][np.arange(len(alpha))[before] >= first]
    eg_plateau = float(eg[window[np.argmin(slope[window])]])
    escape = float(crossing_time(alpha, -eg, -(eg_plateau + 0.1 * (eg[0] - eg_plateau))))
    return Phases(escape, onset, done, eg_plateau, levels)


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


def _mean_sem(x, has_seeds: bool):
    if not has_seeds:
        return x, None
    n = x.shape[0]
    return x.mean(axis=0), (x.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else None)


def plot_dynamics(theory: Trajectory, sim: Trajectory | None = None, ph: Phases | None = None,
                  every: int = 1):
    """Four panels of meta-training: theory lines, simulation markers (seed mean ± 1 s.e.).

    ``theory``: ODE runs, with a seed axis (:func:`integrate_seeds`, one run per simulation
    seed) or without; ``sim``: the simulation of the same seeds. Both should be passed
    through :func:`canonical_units` so that unit k is the one that ends aligned with teacher
    unit k in every run. (a) meta-test error; (b) specialization index; (c) cosines
    R_km/√(Q_kk T_mm); (d) head a_k and norms Q_kk — each averaged over seeds. ``ph``: phases
    to shade (e.g. of the seed-averaged theory). Markers are thinned to every ``every``-th
    record.
    """
    from metarep.observables import specialization_index

    K, M = theory.K, theory.M
    colors = unit_colors(max(K, M))
    ths = theory.has_seeds
    n_th = len(theory.seeds) if ths else 1
    th = {"eg": theory.eg, "s": np.asarray(specialization_index(theory.Q, theory.R, theory.T)),
          "cos": theory.cosines(), "a": theory.a,
          "q": np.diagonal(theory.Q, axis1=-2, axis2=-1)}
    th = {k: _mean_sem(v, ths)[0] for k, v in th.items()}
    if sim is not None:
        sm = {"eg": sim.eg, "s": np.asarray(specialization_index(sim.Q, sim.R, sim.T)),
              "cos": sim.cosines(), "a": sim.a, "q": np.diagonal(sim.Q, axis1=-2, axis2=-1)}
        sm = {k: _mean_sem(v, sim.has_seeds) for k, v in sm.items()}
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


__all__ = ["integrate_batch", "integrate_seeds", "canonical_units", "crossing_time", "Phases", "phases",
           "plot_dynamics", "plot_overlap_heatmaps"]
