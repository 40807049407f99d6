r"""Over-parameterized meta-learners, K > M (book chapter "Over-parameterization").

The ODE is integrated for several widths K of the meta-learner, each from the random initial
states of a few seeds (:func:`metarep.ode.integrate_seeds`: the simulator's initial states,
vmapped over the seeds, one compilation per K). At the end of meta-training every hidden unit
is classified by :func:`unit_roles`:

* its teacher m_k = argmax_m abs(cos_km) and sign s_k = sign(cos_{k m_k}) — g is odd, so a unit
  aligned with −B_m and a head of opposite sign computes the same function;
* its mean adapted head ⟨a′_k⟩ = (P_S a + L_S v̄)_k (book equation ``eq-inner-loop``);
* its share of the output, ⟨a′_k⟩² C_kk / Σ_l ⟨a′_l⟩² C_ll with C = I2(Q), where
  ⟨a′_k⟩² C_kk is the mean-square output of unit k with the mean adapted head;
* its role: ``inactive`` (share < ``inactive``), ``copy`` (abs(cos) ≥ ``align``) of teacher
  m_k, or ``mixed``.

Per seed: the phases of each run (:func:`seed_phases`, :func:`metarep.analysis.phases` with
the specialization level α_s uses), the time in the middle of its plateau
(:func:`plateau_times`), how many teacher units it covers (:func:`final_coverage`), and the
continuation of every run beyond α_max (:func:`continue_runs`).

Figures: :func:`plot_width_dynamics`, :func:`plot_unit_roles`, :func:`plot_width_dependence`,
:func:`plot_long_run`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from metarep import drift, metaloss, observables, ode
from metarep.analysis import SPEC_LEVEL, Phases, phases, seed_stats, specialization_time
from metarep.observables import ALIGN
from metarep.plotting import (ALPHA_LABEL, TSPEC_LABEL, draw_sim,
                              label_error_and_specialization, style, unit_colors)
from metarep.trajectory import Trajectory

#: Output share below which a unit counts as inactive (:func:`unit_roles`).
INACTIVE = 0.01


def t_spec(runs: Trajectory) -> np.ndarray:
    """Time to specialize of each seed's run (∞ if not by α_max), (seeds,)."""
    return specialization_time(runs.alpha, runs.observables["specialization"])


def seed_phases(runs: Trajectory, onset: float = 0.1) -> list[Phases]:
    """:func:`metarep.analysis.phases` of every seed's ODE run, with the onset of
    specialization at index ``onset`` and the end at the level of α_s
    (:data:`metarep.analysis.SPEC_LEVEL`): over-parameterized networks keep mixed or inactive
    units, so their index need not approach 1."""
    return [phases(runs.run(s), (onset, SPEC_LEVEL)) for s in runs.seeds]


def plateau_times(runs: Trajectory, onset: float = 0.1) -> np.ndarray:
    """The middle of each seed's plateau, (escape + onset)/2 of :func:`seed_phases`, (seeds,)."""
    return np.array([(p.escape + p.onset) / 2 for p in seed_phases(runs, onset)])


def final_coverage(runs: Trajectory, align: float = ALIGN) -> np.ndarray:
    """Distinct teacher units with an aligned student unit at the last record, per seed
    (:func:`metarep.observables.coverage`), (seeds,)."""
    T = runs.T_records[:, -1]
    return np.asarray(observables.coverage(runs.Q[:, -1], runs.R[:, -1], T, align))


def continue_runs(runs: Trajectory, alphas, dt: float | None = None) -> Trajectory:
    """Continue every seed's ODE run from its last record (α_max) and record it at the
    absolute times ``alphas`` (> α_max), with the step ``dt`` (default the configuration's;
    the accuracy check of :func:`metarep.ode.integrate_batch` applies). One vmapped
    integration; returns a Trajectory with the seed axis of ``runs``."""
    cfg = runs.config if dt is None else runs.config.replace(dt=float(dt))
    alphas = np.asarray(alphas, dtype=float)
    start = float(runs.alpha[-1])
    if alphas.ndim != 1 or np.any(alphas <= start):
        raise ValueError(f"continue_runs records after the last record α = {start:g}")
    n = len(runs.seeds)
    T = runs.T if runs.T.ndim == 3 else np.broadcast_to(runs.T, (n, runs.M, runs.M))
    run = ode.integrate_batch(cfg, alphas - start,
                              states=ode.stack_states([(runs.Q[i, -1], runs.R[i, -1],
                                                        runs.a[i, -1]) for i in range(n)]),
                              hypers=ode.stack_hypers([drift.hyper(cfg, T[i])
                                                       for i in range(n)]),
                              labels=[f"seed {s}" for s in runs.seeds])
    return Trajectory(alphas, run.Q, run.R, run.a, run.eg, run.observables, runs.seeds,
                      runs.config, run.T)


@dataclass(frozen=True)
class UnitRoles:
    """What each hidden unit does at one state (see the module docstring).

    cos (K, M); norm Q_kk (K,); teacher m_k (K,); sign s_k (K,); adapted_head ⟨a′_k⟩ (K,);
    share (K,) summing to 1; role (K,) of "copy", "mixed", "inactive".
    """

    cos: np.ndarray
    norm: np.ndarray
    teacher: np.ndarray
    sign: np.ndarray
    adapted_head: np.ndarray
    share: np.ndarray
    role: np.ndarray

    @property
    def copies(self) -> np.ndarray:
        """Number of active copies of each teacher unit, (M,)."""
        M = self.cos.shape[1]
        return np.array([np.sum((self.role == "copy") & (self.teacher == m)) for m in range(M)])

    def head_per_teacher(self) -> np.ndarray:
        """Σ over the copies of teacher m of s_k ⟨a′_k⟩: how the adapted readout of each
        teacher unit is split among its copies, (M,)."""
        M = self.cos.shape[1]
        signed = self.sign * self.adapted_head
        return np.array([signed[(self.role == "copy") & (self.teacher == m)].sum()
                         for m in range(M)])


def unit_roles(Q, R, a, cfg, T=None, align: float = ALIGN,
               inactive: float = INACTIVE) -> UnitRoles:
    """Classify the hidden units at the state (Q (K,K), R (K,M), a (K,)) of a run of ``cfg``
    (inner rate and steps, task distribution; T defaults to the identity)."""
    Q, R, a = (np.asarray(x, dtype=float) for x in (Q, R, a))
    T = np.eye(R.shape[1]) if T is None else np.asarray(T, dtype=float)
    dist = metaloss.task_dist(cfg, T)
    b = metaloss.blocks(jnp.asarray(Q), jnp.asarray(R), dist)
    P, L = metaloss.inner_loop(b.C, b.D, cfg.eta_in, cfg.inner_steps)
    head = np.asarray(P @ a + L @ dist.v_bar)
    cos = np.asarray(observables.cosines(Q, R, T))
    K = Q.shape[0]
    teacher = np.abs(cos).argmax(axis=1)
    sign = np.sign(cos[np.arange(K), teacher])
    power = head**2 * np.diag(np.asarray(b.C))
    share = power / power.sum()
    role = np.where(share < inactive, "inactive",
                    np.where(np.abs(cos[np.arange(K), teacher]) >= align, "copy", "mixed"))
    return UnitRoles(cos, np.diag(Q).copy(), teacher, sign, head, share, role)


def role_counts(runs: Trajectory, align: float = ALIGN, inactive: float = INACTIVE) -> dict:
    """Roles of the units at α_max over the seeds of ODE runs with a seed axis: ``copy``,
    ``mixed``, ``inactive`` → number of such units per seed (s,), and ``min_copies`` → the
    smallest number of copies of any teacher unit per seed (s,); 0 means a teacher unit is
    missed."""
    T = runs.T if runs.T.ndim == 3 else np.broadcast_to(runs.T, (len(runs.seeds), *runs.T.shape))
    roles = [unit_roles(runs.Q[i, -1], runs.R[i, -1], runs.a[i, -1], runs.config, T[i], align,
                        inactive) for i in range(len(runs.seeds))]
    out = {name: np.array([np.sum(r.role == name) for r in roles])
           for name in ("copy", "mixed", "inactive")}
    out["min_copies"] = np.array([r.copies.min() for r in roles])
    return out


# -- figures ------------------------------------------------------------------------------------

def _width_colors(n: int):
    return plt.get_cmap("viridis")(np.linspace(0.0, 0.85, n))


def plot_width_dynamics(ensembles: list[Trajectory], sim: Trajectory | None = None,
                        sim_theory: Trajectory | None = None, seed_index: int = 0):
    """Meta-test error and specialization index against α for several widths K (theory:
    ODE runs with a seed axis, one Trajectory per K, drawn for their ``seed_index``-th
    seed). ``sim``: a simulation (seed mean ± s.e. markers) with ``sim_theory``, the ODE from
    the same seeds' initial states (dashed: mean over those seeds)."""
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.0))
        for ens, c in zip(ensembles, _width_colors(len(ensembles))):
            lab = f"$K = {ens.K}$"
            axes[0].plot(ens.alpha, ens.eg[seed_index], color=c, label=lab)
            axes[1].plot(ens.alpha, ens.observables["specialization"][seed_index], color=c,
                         label=lab)
        if sim is not None:
            mean, sem = sim.seed_mean(), sim.seed_sem()
            sm, ss, _ = seed_stats(sim.specialization())
            lab = (f"simulation $K = {sim.K}$, $N = {sim.config.N}$, "
                   f"{len(sim.seeds)} seeds")
            draw_sim(axes[0], mean.alpha, mean.eg, sem.eg, "C3", lab)
            draw_sim(axes[1], mean.alpha, sm, ss, "C3", lab)
            if sim_theory is not None:
                th = "theory, same initial states"
                axes[0].plot(sim_theory.alpha, sim_theory.eg.mean(0), "C3--", lw=1.0,
                             label=th)
                axes[1].plot(sim_theory.alpha,
                             sim_theory.observables["specialization"].mean(0), "C3--", lw=1.0,
                             label=th)
        label_error_and_specialization(*axes, ylim=(-0.02, 1.02))
        axes[0].legend(fontsize=6.5)
    return fig


def plot_unit_roles(roles: list[UnitRoles]):
    """For each state: the signed cosines of every unit with every teacher unit (heatmap),
    and each unit's share of the output, coloured by its teacher, hatched if mixed, grey if
    inactive."""
    n = len(roles)
    Kmax = max(r.cos.shape[0] for r in roles)
    with style():
        fig, axes = plt.subplots(2, n, figsize=(2.6 * n + 0.6, 1.2 + 0.45 * Kmax + 1.8),
                                 squeeze=False, height_ratios=[0.45 * Kmax + 0.6, 1.8])
        for j, r in enumerate(roles):
            K, M = r.cos.shape
            colors = unit_colors(M)
            ax = axes[0, j]
            im = ax.imshow(r.cos, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
            for k in range(K):
                for m in range(M):
                    ax.text(m, k, f"{r.cos[k, m]:.2f}", ha="center", va="center", fontsize=6.5,
                            color="w" if abs(r.cos[k, m]) > 0.6 else "k")
            ax.set_xticks(range(M), [f"$m={m}$" for m in range(M)])
            ax.set_yticks(range(K), [f"$k={k}$" for k in range(K)])
            ax.set_title(f"$K = {K}$: cosines", fontsize=8)
            ax = axes[1, j]
            for k in range(K):
                inactive = r.role[k] == "inactive"
                ax.bar(k, r.share[k], color="0.75" if inactive else colors[r.teacher[k]],
                       hatch="//" if r.role[k] == "mixed" else None, edgecolor="k", lw=0.5)
            ax.set_xticks(range(K), [str(k) for k in range(K)])
            ax.set_xlabel("hidden unit $k$")
            ax.set_ylim(0, 1)
            if j == 0:
                ax.set_ylabel("share of the output")
        fig.colorbar(im, ax=axes[0, :].tolist(), label="cosine", shrink=0.8)
    return fig


def plot_width_dependence(ensembles: list[Trajectory]):
    """Time to specialize and final errors (meta-test and oracle) against K/M: one point per
    seed's initial state (dots), and their mean (line); ``ensembles``: ODE runs with a seed
    axis, one Trajectory per K."""
    r = np.array([e.K / e.M for e in ensembles])
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(7.4, 2.8))
        ts = [t_spec(e) for e in ensembles]
        for x, t in zip(r, ts):
            axes[0].plot(np.full(len(t), x), t, ".", color="0.5", ms=4)
        axes[0].plot(r, [np.mean(t) for t in ts], "k-o", mfc="white", ms=4,
                     label="mean over initial states")
        axes[0].set_xlabel("width ratio $K/M$")
        axes[0].set_ylabel(TSPEC_LABEL)
        axes[0].set_ylim(bottom=0)
        axes[0].legend()
        for name, get, c in (("meta-test error", lambda e: e.eg[:, -1], "k"),
                             ("oracle head", lambda e: e.observables["eg_oracle"][:, -1], "C0")):
            vals = [get(e) for e in ensembles]
            for x, v in zip(r, vals):
                axes[1].plot(np.full(len(v), x), v, ".", color=c, alpha=0.5, ms=4)
            axes[1].plot(r, [np.exp(np.mean(np.log(v))) for v in vals], "-o", color=c,
                         mfc="white", ms=4, label=f"{name} (geometric mean)")
        axes[1].set_yscale("log")
        axes[1].set_xlabel("width ratio $K/M$")
        axes[1].set_ylabel(r"error at $\alpha_\mathrm{max}$")
        axes[1].legend()
    return fig


def plot_long_run(ensembles: list[Trajectory], continued: list[Trajectory] | None = None):
    """Meta-test error against α on logarithmic axes, one colour per width K: ODE runs with a
    seed axis (``ensembles``), each followed by its continuation (``continued``, e.g. from
    :func:`continue_runs`, same order); thin lines, every seed; thick line, the geometric
    mean over the seeds."""
    continued = [None] * len(ensembles) if continued is None else continued
    with style():
        fig, ax = plt.subplots(figsize=(5.2, 3.2))
        for ens, more, c in zip(ensembles, continued, _width_colors(len(ensembles))):
            alpha, eg = ens.alpha, ens.eg
            if more is not None:
                alpha, eg = np.concatenate([alpha, more.alpha]), np.concatenate([eg, more.eg], 1)
            keep = alpha > 0
            ax.plot(alpha[keep], eg[:, keep].T, color=c, lw=0.4, alpha=0.5)
            ax.plot(alpha[keep], np.exp(np.log(eg[:, keep]).mean(axis=0)), color=c, lw=1.8,
                    label=f"$K = {ens.K}$ (geometric mean)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"meta-test error $\epsilon_g$")
        ax.legend()
    return fig


__all__ = ["INACTIVE", "t_spec", "seed_phases", "plateau_times", "final_coverage",
           "continue_runs", "UnitRoles", "unit_roles", "role_counts", "plot_width_dynamics",
           "plot_unit_roles", "plot_width_dependence", "plot_long_run"]
