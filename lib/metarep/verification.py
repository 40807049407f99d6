r"""Does the theory hold? The ODE against the microscopic process (book chapter "Does the
theory hold?", SPEC §3 checks 2 and 4), and how finite-N simulations approach it (chapter
"Finite-size effects").

Three comparisons, each a pure computation followed by figure functions:

* **Drift test** (:func:`drift_comparison`, :func:`plot_drift`). At a fixed microscopic state
  (W, a), n independent single meta-training steps of the simulator
  (:func:`metarep.simulator.step_increments`: autodiff of the per-sample loss through the
  inner loop, not the ODE's formulas) give samples of N·ΔQ, N·ΔR, N·Δa. Their mean estimates
  the drift, to be compared entry by entry with the ODE right-hand side
  (:func:`metarep.ode.rhs`, book equations ``eq-ode-Q``, ``eq-ode-R``, ``eq-ode-a``) at the
  measured overlaps, as z = (mean − theory)/s.e. with s.e. = sample std/√n. The finite-N bias
  of the mean increment is O(1/N), far below the s.e. at the sizes used, so |z| bounds the
  Monte-Carlo error: |z| < 4 for every entry.

* **Trajectories** (:func:`trajectory_deviation`, :func:`plot_trajectories`,
  :func:`plot_deviation`). The ODE integrated from the simulation's initial order parameters
  against seed-averaged simulations at several N. The deviation of a single run from the ODE
  is a fluctuation of order 1/√N; the seed average deviates by O(1/N) (bias) plus its own
  seed noise. :func:`trajectory_deviation` returns, per N, the RMS deviation of single runs'
  overlaps (with its standard error across seeds) and the largest deviation of the seed-mean
  meta-test error in units of its standard error.

* **Finite-size effects** (:func:`finite_size`, :func:`plot_finite_size_runs`,
  :func:`plot_finite_size_scaling`; book chapter "Finite-size effects"). Each run against the
  ODE started from its own initial order parameters (:func:`own_ode`): the RMS deviation over
  an early window (O(1/√N)), its √N-scaled time course (amplified on the plateau), and the
  specialization times of runs and ODEs with the fit α_spec = c + B ln N
  (:meth:`FiniteSize.plateau_fit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from metarep import metaloss, ode, simulator
from metarep.config import Config
from metarep.initial import initial_weights, overlaps
from metarep.plotting import ALPHA_LABEL, style, unit_colors
from metarep.trajectory import Trajectory


# -- drift test --------------------------------------------------------------------------------

@dataclass(frozen=True)
class DriftComparison:
    """Theory and Monte-Carlo drift of every order-parameter entry at one state.

    names (n,): entry names ``Q_i_j`` (i ≤ j), ``R_k_m``, ``a_k``; theory (n,): the ODE
    right-hand side; mean (n,), sem (n,): sample mean and its standard error of N·Δ over
    ``n_samples`` independent single steps; label: a name for the legend.
    """

    names: tuple[str, ...]
    theory: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    n_samples: int
    label: str = ""

    @property
    def z(self) -> np.ndarray:
        """z-scores (mean − theory)/sem (n,)."""
        return (self.mean - self.theory) / self.sem


def entry_names(K: int, M: int) -> tuple[str, ...]:
    """Names of the independent order-parameter entries: Q_i_j (i ≤ j), R_k_m, a_k."""
    return (tuple(f"Q_{i}_{j}" for i in range(K) for j in range(i, K))
            + tuple(f"R_{k}_{m}" for k in range(K) for m in range(M))
            + tuple(f"a_{k}" for k in range(K)))


def flatten_entries(Q, R, a) -> np.ndarray:
    """(..., K, K), (..., K, M), (..., K) → (..., n) in the order of :func:`entry_names`."""
    Q, R, a = (np.asarray(x, dtype=float) for x in (Q, R, a))
    K = Q.shape[-1]
    iu = np.triu_indices(K)
    return np.concatenate([Q[..., iu[0], iu[1]], R.reshape(*R.shape[:-2], -1), a], axis=-1)


def drift_comparison(cfg: Config, n_samples: int, key: int = 0,
                     label: str = "") -> DriftComparison:
    """Monte-Carlo drift of the simulator against the ODE right-hand side at cfg's initial state.

    The state is the microscopic initialisation of ``cfg`` (explicit Q0/R0/a0 or random, with
    ``cfg.seed``); its measured overlaps (Q, R, T) enter the theory. ``key`` seeds the tasks
    and samples of the ``n_samples`` single steps.
    """
    B, W, a = initial_weights(cfg)
    Q, R, T = overlaps(W, B)
    inc = simulator.step_increments(cfg, W, B, a, jax.random.PRNGKey(key), n_samples)
    samples = flatten_entries(inc["Q"], inc["R"], inc["a"])
    theory = ode.rhs((Q, R, a), cfg, T=T)
    return DriftComparison(names=entry_names(cfg.K, cfg.M),
                           theory=flatten_entries(*theory),
                           mean=samples.mean(axis=0),
                           sem=samples.std(axis=0, ddof=1) / np.sqrt(n_samples),
                           n_samples=int(n_samples), label=label)


def _tex_entry(name: str) -> str:
    sym, *idx = name.split("_")
    return rf"${sym}_{{{''.join(idx)}}}$"


def plot_drift(comparisons: Sequence[DriftComparison], z_max: float = 4.0):
    """Drift test figure: one column per comparison.

    Top: the ODE right-hand side of each entry (bars) and the Monte-Carlo mean of N·Δ
    (markers, ±1 s.e.). Bottom: the z-scores, with the bands |z| ≤ 2 (shaded) and ``z_max``
    (dashed).
    """
    with style():
        n_col = len(comparisons)
        fig, axes = plt.subplots(2, n_col, figsize=(4.5 * n_col, 4.6), squeeze=False,
                                 sharex="col", height_ratios=[2, 1])
        for c, comp in enumerate(comparisons):
            x = np.arange(len(comp.names))
            ax = axes[0, c]
            ax.bar(x, comp.theory, width=0.6, color="0.8", edgecolor="k", linewidth=0.6,
                   label="theory (ODE right-hand side)")
            ax.errorbar(x, comp.mean, yerr=comp.sem, fmt="o", color="C3", mfc="white",
                        mew=1.0, elinewidth=0.8,
                        label=f"simulation: mean of $N\\Delta$ ({comp.n_samples} steps)")
            ax.axhline(0.0, color="k", lw=0.6)
            ax.set_ylabel(r"drift $d/d\alpha$")
            ax.set_title(comp.label)
            ax.legend(loc="best")
            ax = axes[1, c]
            ax.axhspan(-2, 2, color="0.9", zorder=0)
            for s in (-z_max, z_max):
                ax.axhline(s, color="k", ls="--", lw=0.8)
            ax.plot(x, comp.z, "o", color="C3", mfc="white", mew=1.0, label="z-score")
            ax.set_ylim(-1.15 * max(z_max, np.abs(comp.z).max()),
                        1.15 * max(z_max, np.abs(comp.z).max()))
            ax.set_ylabel("$z$ = (simulation − theory)/s.e.")
            ax.set_xticks(x, [_tex_entry(n) for n in comp.names], rotation=90)
    return fig


# -- trajectories ----------------------------------------------------------------------------

def simulate_sizes(cfg: Config, sizes: Sequence[int], seeds: int,
                   alphas=None) -> dict[int, Trajectory]:
    """Seed-vmapped simulations of ``cfg`` at each N in ``sizes`` (one compile per N)."""
    return {int(N): simulator.simulate(cfg.replace(N=int(N)), seeds=seeds, alphas=alphas,
                                       progress=False)
            for N in sizes}


@dataclass(frozen=True)
class Deviation:
    """How far simulations at several N are from the ODE.

    N (n,); overlap_rms (n,): RMS over seeds, records and the entries Q_ij (i ≤ j), R_km of
    single runs' deviation from the ODE; overlap_rms_se (n,): its standard error (from the
    spread across seeds of the per-seed mean square, by the delta method); state_rms,
    state_rms_se (n,): the same for the meta-test error F(Q, R, a) of each run's measured
    state (closed form, book equation ``eq-metaloss``: no Monte-Carlo noise); eg_dev (n,):
    max over records of |seed mean of the simulator's Monte-Carlo ε_g − ODE ε_g|; eg_z (n,):
    max over records of that deviation over its standard error (seed spread, which includes
    each run's Monte-Carlo error of ε_g); eg_rel (n,): max over records of |Δε_g|/ε_g.
    """

    N: np.ndarray
    overlap_rms: np.ndarray
    overlap_rms_se: np.ndarray
    state_rms: np.ndarray
    state_rms_se: np.ndarray
    eg_dev: np.ndarray
    eg_z: np.ndarray
    eg_rel: np.ndarray

    def slope(self) -> tuple[float, float]:
        """Log-log slope of overlap_rms against N and its s.e. (:func:`loglog_slope`);
        the prediction is −1/2."""
        return loglog_slope(self.N, self.overlap_rms, self.overlap_rms_se)


def loglog_slope(x, y, y_se) -> tuple[float, float]:
    """Weighted least-squares slope of log y against log x (n,), and its standard error.

    Weights 1/var(log y), var(log y) ≈ (y_se/y)² (delta method).
    """
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    w = (np.asarray(y, dtype=float) / np.asarray(y_se, dtype=float)) ** 2
    xm = np.sum(w * lx) / np.sum(w)
    sxx = np.sum(w * (lx - xm) ** 2)
    return float(np.sum(w * (lx - xm) * ly) / sxx), float(1.0 / np.sqrt(sxx))


def _rms(dev) -> tuple[float, float]:
    """RMS of deviations (seeds, ...) and its standard error across seeds (delta method)."""
    ms = np.mean(dev.reshape(dev.shape[0], -1) ** 2, axis=1)              # per seed
    rms = float(np.sqrt(ms.mean()))
    return rms, float(ms.std(ddof=1) / np.sqrt(len(ms)) / (2 * rms))


def state_error(traj: Trajectory, cfg: Config | None = None) -> np.ndarray:
    """Closed-form meta-test error F(Q, R, a) (book equation ``eq-metaloss``) of every
    recorded state of ``traj`` (shape of ``traj.eg``), with the task distribution of ``cfg``
    (default ``traj.config``) and the trajectory's T."""
    cfg = traj.config if cfg is None else cfg
    dist = metaloss.task_dist(cfg, traj.T)
    f = jax.jit(jnp.vectorize(
        lambda Q, R, a: metaloss.meta_test_error(Q, R, a, dist, cfg.eta_in, cfg.inner_steps),
        signature="(k,k),(k,m),(k)->()"))
    return np.asarray(f(jnp.asarray(traj.Q), jnp.asarray(traj.R), jnp.asarray(traj.a)))


def trajectory_deviation(theory: Trajectory, sims: dict[int, Trajectory]) -> Deviation:
    """Deviation of seed-vmapped simulations (N → Trajectory with a seed axis) from the ODE.

    The records of every simulation must be those of ``theory`` (same α); the head a is not
    part of the overlap deviation.
    """
    sizes = sorted(sims)
    out = {k: [] for k in ("rms", "rms_se", "st", "st_se", "eg_dev", "eg_z", "eg_rel")}
    ref = flatten_entries(theory.Q, theory.R, theory.a)[..., :-theory.K]   # (n, entries)
    for N in sizes:
        sim = sims[N]
        if not np.allclose(sim.alpha, theory.alpha):
            raise ValueError(f"the simulation at N = {N} is recorded at other times than the ODE")
        rms, rms_se = _rms(flatten_entries(sim.Q, sim.R, sim.a)[..., :-theory.K] - ref)
        st, st_se = _rms(state_error(sim, theory.config) - theory.eg)
        s = len(sim.seeds)
        d_eg = sim.eg.mean(axis=0) - theory.eg
        se_eg = sim.eg.std(axis=0, ddof=1) / np.sqrt(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se_eg > 0, np.abs(d_eg) / se_eg, 0.0)
        for k, v in zip(out, (rms, rms_se, st, st_se, np.abs(d_eg).max(), z.max(),
                              np.max(np.abs(d_eg) / theory.eg))):
            out[k].append(v)
    return Deviation(np.array(sizes, dtype=float), *(np.array(v) for v in out.values()))


def plot_trajectories(theory: Trajectory, sims: dict[int, Trajectory]):
    """ODE (lines) against seed-averaged simulations at several N (markers, ±1 s.e.).

    Left: meta-test error. Right: the student–teacher cosines R_km/√(Q_kk T_mm), each N
    slightly shifted in α for legibility (the records are at the ODE's times).
    """
    sizes = sorted(sims)
    markers = ["o", "s", "^", "D", "v", "P"]
    ucol = unit_colors(max(theory.K, theory.M))
    span = theory.alpha[-1] - theory.alpha[0]
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.2))
        ax = axes[0]
        ax.plot(theory.alpha, theory.eg, color="k", label="theory (ODE)")
        ncol = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(sizes)))
        for i, N in enumerate(sizes):
            mean, sem = sims[N].seed_mean(), sims[N].seed_sem()
            shift = (i - (len(sizes) - 1) / 2) * 0.008 * span
            ax.errorbar(mean.alpha + shift, mean.eg, yerr=sem.eg, fmt=markers[i % 6],
                        color=ncol[i], mfc="white", mew=1.0, elinewidth=0.8,
                        label=f"simulation, N = {N} ({len(sims[N].seeds)} seeds)", zorder=3)
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"meta-test error $\epsilon_g$")
        ax.legend()
        ax = axes[1]
        cos = theory.cosines()
        for k in range(theory.K):
            for m in range(theory.M):
                ax.plot(theory.alpha, cos[:, k, m], color=ucol[m],
                        ls=["-", "--", ":", "-."][k % 4], label=f"$k={k}, m={m}$")
        for i, N in enumerate(sizes):
            c = sims[N].cosines()
            c_mean = c.mean(axis=0)
            c_sem = c.std(axis=0, ddof=1) / np.sqrt(c.shape[0])
            shift = (i - (len(sizes) - 1) / 2) * 0.008 * span
            for k in range(theory.K):
                for m in range(theory.M):
                    ax.errorbar(sims[N].alpha + shift, c_mean[:, k, m], yerr=c_sem[:, k, m],
                                fmt=markers[i % 6], color=ucol[m], mfc="white", mew=1.0,
                                elinewidth=0.8, zorder=3)
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"cosine $R_{km}/\sqrt{Q_{kk}T_{mm}}$")
        ax.legend(title="theory: unit $k$,\nteacher $m$", loc="center left",
                  bbox_to_anchor=(1.0, 0.5))
    return fig


def plot_deviation(dev: Deviation):
    """Deviation from the ODE against N (log-log), with the 1/√N reference.

    Markers (±1 s.e.): RMS deviation of single runs' overlaps Q, R and of the meta-test error
    of their states. The dashed lines are c/√N through the values at the smallest N.
    """
    with style():
        fig, ax = plt.subplots(figsize=(4.6, 3.3))
        ax.errorbar(dev.N, dev.overlap_rms, yerr=dev.overlap_rms_se, fmt="o", color="C0",
                    mfc="white", mew=1.0, elinewidth=0.8,
                    label=r"single runs: RMS deviation of $Q, R$")
        ax.errorbar(dev.N, dev.state_rms, yerr=dev.state_rms_se, fmt="s", color="C3",
                    mfc="white", mew=1.0, elinewidth=0.8,
                    label=r"single runs: RMS deviation of $\epsilon_g$")
        for y, lab in ((dev.overlap_rms, r"$\propto 1/\sqrt{N}$"), (dev.state_rms, None)):
            ax.plot(dev.N, y[0] * np.sqrt(dev.N[0] / dev.N), "--", color="k", lw=0.9,
                    label=lab)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(dev.N, [f"{int(n)}" for n in dev.N])
        ax.minorticks_off()
        ax.set_xlabel("input dimension $N$")
        ax.set_ylabel("deviation from the ODE")
        ax.legend()
    return fig


# -- finite-size effects ---------------------------------------------------------------------

def own_ode(sim: Trajectory, cfg: Config | None = None) -> Trajectory:
    """The ODE started from each run's own initial order parameters (Q, R, a at its first
    record) and recorded at its times: a Trajectory with the same seed axis as ``sim``.

    All runs share one compiled integrator (same signature), so this is cheap.
    """
    cfg = sim.config if cfg is None else cfg
    runs = [ode.integrate(cfg, alphas=sim.alpha, state0=(sim.Q[s, 0], sim.R[s, 0], sim.a[s, 0]),
                          T=sim.T) for s in range(len(sim.seeds))]
    stack = lambda f: np.stack([f(r) for r in runs])  # noqa: E731
    return Trajectory(sim.alpha, stack(lambda r: r.Q), stack(lambda r: r.R),
                      stack(lambda r: r.a), stack(lambda r: r.eg),
                      {k: stack(lambda r: r.observables[k]) for k in runs[0].observables},
                      seeds=sim.seeds, config=cfg, T=runs[0].T)


def specialization(traj: Trajectory) -> np.ndarray:
    """Specialization index (:func:`metarep.observables.specialization_index`) of every
    record, shape of ``traj.eg``."""
    from metarep.observables import specialization_index

    return np.asarray(specialization_index(traj.Q, traj.R, traj.T))


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
        X = np.stack([np.ones_like(x), x], axis=1)
        coef, res, *_ = np.linalg.lstsq(X, y, rcond=None)
        sigma2 = float(res[0]) / (len(y) - 2)
        cov = sigma2 * np.linalg.inv(X.T @ X)
        return float(coef[1]), float(np.sqrt(cov[1, 1])), float(coef[0])


def finite_size(sims: dict[int, Trajectory], window: float) -> FiniteSize:
    """Compare runs at several N (N → Trajectory with a seed axis, same records) with the
    ODE started from each run's own initial state (:func:`own_ode`)."""
    from metarep.studies.hyperparameters import time_to_specialize

    sizes = sorted(sims)
    alpha = sims[sizes[0]].alpha
    keep = alpha <= window
    out = {k: [] for k in ("curve", "dev", "se", "t_sim", "t_ode", "s_sim", "s_ode")}
    for N in sizes:
        sim = sims[N]
        if not np.allclose(sim.alpha, alpha):
            raise ValueError("all simulations must be recorded at the same times")
        th = own_ode(sim)
        K = sim.K
        d = (flatten_entries(sim.Q, sim.R, sim.a) - flatten_entries(th.Q, th.R, th.a))[..., :-K]
        out["curve"].append(np.sqrt(np.mean(d**2, axis=(0, 2))))
        rms, se = _rms(d[:, keep])
        out["dev"].append(rms)
        out["se"].append(se)
        s_sim, s_ode = specialization(sim), specialization(th)
        out["s_sim"].append(s_sim)
        out["s_ode"].append(s_ode)
        out["t_sim"].append(time_to_specialize(alpha, s_sim))
        out["t_ode"].append(time_to_specialize(alpha, s_ode))
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
                    ax.errorbar(N * shift, t.mean(), yerr=t.std(ddof=1) / np.sqrt(len(t)),
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


__all__ = ["DriftComparison", "entry_names", "flatten_entries", "drift_comparison",
           "plot_drift", "simulate_sizes", "Deviation", "loglog_slope", "state_error",
           "trajectory_deviation", "plot_trajectories", "plot_deviation", "own_ode",
           "specialization", "FiniteSize", "finite_size", "plot_finite_size_runs",
           "plot_finite_size_scaling"]
