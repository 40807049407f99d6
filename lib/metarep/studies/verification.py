r"""Does the theory hold? The ODE against the microscopic process: the computations and
figures of the chapter "Does the theory hold?" (``book/verification.md``).

* **Drift test** (:func:`drift_comparison`, :func:`plot_drift`). At a fixed microscopic state
  (W, a), n independent single meta-training steps of the simulator
  (:func:`metarep.simulator.step_increments`: autodiff of the per-sample loss through the
  inner loop, not the ODE's formulas) give samples of N·ΔQ, N·ΔR, N·Δa. Their mean estimates
  the drift, to be compared entry by entry with the ODE right-hand side
  (:func:`metarep.drift.rhs`, book equations ``eq-ode-Q``, ``eq-ode-R``, ``eq-ode-a``) at the
  measured overlaps. The mean increment has an O(1/N) bias; the test of the statistics
  policy (:func:`metarep.analysis.size_agreement`) measures it from a second, smaller N and
  tests the extrapolation N → ∞ (:meth:`DriftComparison.stats` gives its input).

* **Trajectories** (:func:`trajectory_deviation`, :func:`bias_law`, :func:`plot_trajectories`,
  :func:`plot_deviation`, :func:`plot_bias_law`). The ODE integrated from the simulation's
  initial order parameters against simulations at several N, each run's meta-test error
  being the closed form F(Q, R, a) of its recorded state
  (:meth:`metarep.trajectory.Trajectory.state_error`). A single run deviates from the ODE by
  a fluctuation of order 1/√N (:class:`Deviation`); the seed mean deviates by a bias β/N
  plus its own seed noise (:class:`BiasLaw`: N·(mean − ODE) is the same at every N if the
  bias is β/N, which is what the statistics policy's allowance assumes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import jax
import matplotlib.pyplot as plt
import numpy as np

from metarep import drift, simulator
from metarep.analysis import SeedStats, SizeFit, loglog_slope, rms_over_seeds, seed_stats, size_fit
from metarep.config import Config
from metarep.initial import initial_weights, overlaps
from metarep.linear import coordinate_names, state_vector
from metarep.plotting import ALPHA_LABEL, style, unit_colors
from metarep.trajectory import Trajectory


# -- drift test --------------------------------------------------------------------------------

@dataclass(frozen=True)
class DriftComparison:
    """Theory and Monte-Carlo drift of every order-parameter entry at one state.

    names (n,): entry names ``Q_i_j`` (i ≤ j), ``R_k_m``, ``a_k``; theory (n,): the ODE
    right-hand side; mean (n,), sem (n,): sample mean and its standard error of N·Δ over
    ``n_samples`` independent single steps; label: a name for the legend; N: the input
    dimension of the steps.
    """

    names: tuple[str, ...]
    theory: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    n_samples: int
    label: str = ""
    N: int = 0

    @property
    def z(self) -> np.ndarray:
        """z-scores (mean − theory)/sem (n,)."""
        return (self.mean - self.theory) / self.sem

    def stats(self) -> SeedStats:
        """The sample mean, its standard error and the number of steps of every entry, the
        input of :func:`metarep.analysis.size_fit` and :func:`~metarep.analysis.size_agreement`."""
        return SeedStats(self.mean, self.sem, np.full(self.mean.shape, self.n_samples))

    def table(self) -> dict[str, np.ndarray]:
        """Columns label, N, entry, theory, mean, sem, z (one row per entry), for
        :func:`metarep.downloads.write_csv`."""
        return {"label": self.label, "N": self.N, "entry": np.array(self.names),
                "theory": self.theory, "mean": self.mean, "sem": self.sem, "z": self.z}


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
    samples = np.asarray(state_vector(inc["Q"], inc["R"], inc["a"]))
    theory = drift.rhs((Q, R, a), cfg, T=T)
    st = seed_stats(samples)
    return DriftComparison(names=coordinate_names(cfg.K, cfg.M),
                           theory=np.asarray(state_vector(*theory)), mean=st.mean, sem=st.sem,
                           n_samples=int(n_samples), label=label, N=int(cfg.N))


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

@dataclass(frozen=True)
class Deviation:
    """How far single runs at several N are from the ODE.

    N (n,); overlap_rms (n,): RMS over seeds, records and the entries Q_ij (i ≤ j), R_km of
    single runs' deviation from the ODE; overlap_rms_se (n,): its standard error (from the
    spread across seeds of the per-seed mean square, by the delta method); state_rms,
    state_rms_se (n,): the same for the meta-test error F(Q, R, a) of each run's recorded
    state (closed form, book equation ``eq-metaloss``).
    """

    N: np.ndarray
    overlap_rms: np.ndarray
    overlap_rms_se: np.ndarray
    state_rms: np.ndarray
    state_rms_se: np.ndarray

    def slope(self, which: str = "overlaps") -> tuple[float, float]:
        """Log-log slope against N of ``overlap_rms`` (``"overlaps"``) or ``state_rms``
        (``"error"``) and its s.e. (:func:`metarep.analysis.loglog_slope`); the prediction
        is −1/2."""
        if which == "overlaps":
            return loglog_slope(self.N, self.overlap_rms, self.overlap_rms_se)
        if which == "error":
            return loglog_slope(self.N, self.state_rms, self.state_rms_se)
        raise ValueError(f"which must be 'overlaps' or 'error', got {which!r}")


#: The closed-form meta-test error of every recorded state of a trajectory:
#: :meth:`metarep.trajectory.Trajectory.state_error` as a function of (traj, cfg=None).
state_error = Trajectory.state_error


def _check_records(theory: Trajectory, sims: dict[int, Trajectory]) -> list[int]:
    sizes = sorted(sims)
    for N in sizes:
        if not np.allclose(sims[N].alpha, theory.alpha):
            raise ValueError(f"the simulation at N = {N} is recorded at other times than the ODE")
    return sizes


def trajectory_deviation(theory: Trajectory, sims: dict[int, Trajectory]) -> Deviation:
    """Deviation of single runs (N → Trajectory with a seed axis) from the ODE ``theory``.

    The records of every simulation must be those of ``theory`` (same α); the head a is not
    part of the overlap deviation.
    """
    sizes = _check_records(theory, sims)
    out = {k: [] for k in ("rms", "rms_se", "st", "st_se")}
    ref = np.asarray(state_vector(theory.Q, theory.R, theory.a, False))    # (n, entries)
    for N in sizes:
        sim = sims[N]
        rms, rms_se = rms_over_seeds(np.asarray(state_vector(sim.Q, sim.R, sim.a, False)) - ref)
        st, st_se = rms_over_seeds(sim.state_error(theory.config) - theory.eg)
        for k, v in zip(out, (rms, rms_se, st, st_se)):
            out[k].append(v)
    return Deviation(np.array(sizes, dtype=float), *(np.array(v) for v in out.values()))


@dataclass(frozen=True)
class BiasLaw:
    """The bias of the seed-mean meta-test error at several N, record by record.

    N (n,); alpha (r,) the records after α = 0 (at α = 0 every run starts on the ODE);
    fit: :class:`~metarep.analysis.SizeFit` of the deviations F(run) − ε_g(ODE) (its
    ``limit`` is the deviation extrapolated to N → ∞, its ``slope`` the coefficient β of the
    bias β/N); remainder: the same fit of N·(F(run) − ε_g(ODE)), whose slope is the
    coefficient of a 1/N² term (zero if the bias is β/N).
    """

    N: np.ndarray
    alpha: np.ndarray
    fit: SizeFit
    remainder: SizeFit

    @property
    def scaled(self) -> tuple[np.ndarray, np.ndarray]:
        """N·(seed mean − ODE) and its standard error, (n, r) each."""
        return self.remainder.mean, self.remainder.sem


def bias_law(theory: Trajectory, sims: dict[int, Trajectory]) -> BiasLaw:
    """:class:`BiasLaw` of simulations at several N (same records as ``theory``) against the
    ODE ``theory`` (no seed axis: every run starts from the same explicit state)."""
    sizes = _check_records(theory, sims)
    dev = {N: (sims[N].state_error(theory.config) - theory.eg)[:, 1:] for N in sizes}
    return BiasLaw(np.array(sizes, dtype=float), theory.alpha[1:], size_fit(dev),
                   size_fit({N: N * d for N, d in dev.items()}))


def plot_trajectories(theory: Trajectory, sims: dict[int, Trajectory]):
    """ODE (lines) against seed-averaged simulations at several N (markers, ±1 s.e.).

    Left: meta-test error (of the simulations: the closed form F of each run's recorded
    state, :meth:`~metarep.trajectory.Trajectory.state_error`). Right: the student–teacher cosines R_km/√(Q_kk T_mm), each N
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
            err = seed_stats(sims[N].state_error(theory.config))
            shift = (i - (len(sizes) - 1) / 2) * 0.008 * span
            ax.errorbar(sims[N].alpha + shift, err.mean, yerr=err.sem, fmt=markers[i % 6],
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
            c_mean, c_sem, _ = seed_stats(sims[N].cosines())
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


def plot_bias_law(law: BiasLaw):
    """N·(seed-mean meta-test error − ODE) against α at every N (markers, ±1 s.e.; each N
    slightly shifted in α): the curves coincide if the bias of the seed mean is β/N. The
    shaded band is the fitted β ± 1 s.e. from all sizes (:attr:`BiasLaw.fit`)."""
    scaled, scaled_se = law.scaled
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(law.N)))
    markers = ["o", "s", "^", "D", "v", "P"]
    span = law.alpha[-1] - law.alpha[0]
    with style():
        fig, ax = plt.subplots(figsize=(5.2, 3.3))
        beta, beta_se = law.fit.slope, law.fit.slope_se
        ax.fill_between(law.alpha, beta - beta_se, beta + beta_se, color="0.85", lw=0,
                        label=r"fit: $\beta \pm 1$ s.e. (all sizes)")
        ax.axhline(0.0, color="k", lw=0.6)
        for i, N in enumerate(law.N):
            shift = (i - (len(law.N) - 1) / 2) * 0.01 * span
            ax.errorbar(law.alpha + shift, scaled[i], yerr=scaled_se[i], fmt=markers[i % 6],
                        color=colors[i], mfc="white", mew=1.0, elinewidth=0.8,
                        label=f"N = {int(N)}")
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"$N\times$(mean $\epsilon_g$ of the runs $-$ ODE)")
        ax.legend(ncol=2)
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


__all__ = ["DriftComparison", "drift_comparison", "plot_drift", "Deviation", "state_error",
           "trajectory_deviation", "BiasLaw", "bias_law", "plot_trajectories", "plot_bias_law",
           "plot_deviation"]
