r"""Finite-size effects: the computations and figures of the chapter "Finite-size effects"
(``book/finite_size.md``).

* **From a symmetric start** (:func:`finite_size`): each run at finite N is compared with the
  ODE started from its own initial order parameters (:func:`own_ode`): the RMS deviation over
  an early window (O(1/√N)), its √N-scaled time course (amplified on the plateau), and the
  specialization times of runs and ODEs with the fit α_spec = c + B ln N
  (:meth:`FiniteSize.plateau_fit`), to be compared with 1/(2λ), λ the escape rate of the
  plateau fixed point (:func:`plateau_rate`).
* **Through specialization from an asymmetric start** (:func:`convergence`): runs at several
  N from one explicit state whose symmetry-breaking components are O(1), against the ODE
  from that state: per run, the largest gap over α of the meta-test error of its state and
  the gap of its specialization time; their root mean square over runs falls like 1/√N
  (:meth:`Convergence.exponent`), and their seed means extrapolate to zero as N → ∞
  (:meth:`Convergence.limit_test`). Each N is simulated only to its :func:`horizons` (the
  margin after the ODE's specialization shrinks like 1/√N), which makes N ≈ 10⁴ affordable.
* **Sensitivity of the ODE to its initial state** (:func:`amplification`): the largest
  singular value of the tangent map ∂x(α)/∂x(0), by central differences — how much a
  deviation of a run at α = 0 is amplified by α.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from metarep import drift, linear, ode, simulator
from metarep.analysis import (Agreement, fit_line, rms_over_seeds, seed_stats, size_agreement,
                              specialization_time)
from metarep.config import Config
from metarep.linear import state_from_vector, state_vector
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


def plateau_rate(cfg: Config, theory: Trajectory) -> float:
    """Escape rate λ of the plateau: the largest real part among the odd modes (those that
    leave the teacher-symmetric subspace) of the Jacobian at the plateau fixed point
    (:func:`metarep.linear.plateau_fixed_point`, :func:`metarep.linear.modes`), found from
    the last state of ``theory``, an ODE run that stays in that subspace (no seed axis)."""
    fp = linear.plateau_fixed_point(cfg, (theory.Q[-1], theory.R[-1], theory.a[-1]))
    return linear.modes(fp.J, cfg.K, cfg.M, cfg.eta_head > 0).rate


# -- convergence through specialization -------------------------------------------------------

@dataclass(frozen=True)
class Convergence:
    """Runs at several N from one explicit initial state against the ODE from that state.

    label: a name (e.g. the rates); N (n,); alpha (r,); eg_ode (r,) and t_ode: the ODE's
    meta-test error and specialization time; eg_sim: list over N of (seeds, r), the
    closed-form meta-test error of every run's recorded states; t_sim: list over N of
    (seeds,) the runs' specialization times (index reaching 1/2, interpolated). Every size
    has the same number of runs.

    A run's gap to the ODE is a bias (the same for every run, O(1/N): tested by
    :meth:`limit_test`) plus a fluctuation (different in every run, O(1/√N): its size is
    :meth:`spread`, its scaling :meth:`exponent`).
    """

    label: str
    N: np.ndarray
    alpha: np.ndarray
    eg_ode: np.ndarray
    t_ode: float
    eg_sim: list
    t_sim: list

    @property
    def seeds(self) -> int:
        return len(self.t_sim[0])

    def gaps(self, which: str) -> list:
        """Per N, the gaps of the runs: ``"eg"``, ε_g(run) − ε_g(ODE) at every record
        (seeds, r); ``"t"``, t_spec(run) − t_spec(ODE) (seeds,)."""
        if which == "eg":
            return [e - self.eg_ode for e in self.eg_sim]
        if which == "t":
            return [t - self.t_ode for t in self.t_sim]
        raise ValueError(f"which must be 'eg' or 't', got {which!r}")

    def spread(self, which: str) -> np.ndarray:
        """The size of a run's fluctuation about the seed mean at each N, (n,): for ``"t"``
        the standard deviation over runs of the specialization-time gap; for ``"eg"`` the
        largest over α of the standard deviation over runs of the gap of ε_g."""
        sd = [np.std(g, axis=0, ddof=1) for g in self.gaps(which)]
        return np.array([np.max(x) for x in sd])

    def exponent(self, which: str) -> tuple[float, float]:
        """Slope p of log :meth:`spread` against log N and its standard error; the
        prediction is p = −1/2. Fitted by least squares with the standard error of the log
        of a standard deviation of n Gaussian samples, 1/√(2(n − 1)), at every N (the same
        n at every N, so its small-sample bias cancels in the slope). For ``"eg"``, the
        largest of several correlated standard deviations fluctuates less than one of them:
        the standard error is then an upper bound."""
        y_se = np.full(len(self.N), 1.0 / np.sqrt(2.0 * (self.seeds - 1)))
        slope, se, _ = fit_line(np.log(self.N), np.log(self.spread(which)), y_se)
        return slope, se

    def limit_test(self, false_alarm: float = 1e-3) -> Agreement:
        """The statistics policy's test (:func:`metarep.analysis.size_agreement`) that the
        seed means of the gaps of ε_g at every record after α = 0 and of the specialization
        time extrapolate to zero as N → ∞ (bias β/N measured from all sizes), Holm's
        correction over all of them at the family-wise rate ``false_alarm``. Entries: the
        records (α > 0), then the specialization time."""
        samples = {int(N): np.concatenate([e[:, 1:], t[:, None]], axis=1)
                   for N, e, t in zip(self.N, self.gaps("eg"), self.gaps("t"))}
        return size_agreement(samples, 0.0, false_alarm)


def horizons(cfg: Config, t_ode: float, sizes) -> dict[int, float]:
    """How far each size must be simulated for its runs to specialize: {N: α_N}, with
    α_N = t_ode + (α_max − t_ode)·√(N_min/N) snapped up to a record of ``cfg``.

    ``cfg.alpha_max`` is the horizon at the smallest size; the run-to-run spread of a run's
    specialization time falls like 1/√N (the law :class:`Convergence` measures), so the
    margin after the ODE's specialization time ``t_ode`` shrinks with it and the largest
    sizes, which cost the most (∝ α N²), stop early. :func:`convergence` raises if a run
    has not specialized by its horizon."""
    sizes = sorted(int(n) for n in sizes)
    rec = cfg.record_alphas
    out = {}
    for N in sizes:
        target = t_ode + (cfg.alpha_max - t_ode) * np.sqrt(sizes[0] / N)
        out[N] = float(rec[min(np.searchsorted(rec, target - 1e-9), len(rec) - 1)])
    return out


def convergence(cfg: Config, sizes, seeds: int, label: str = "",
                shrink_horizon: bool = True) -> Convergence:
    """Simulate ``cfg`` (explicit Q0, R0, a0: every run and the ODE start there exactly) at
    each N in ``sizes`` with ``seeds`` runs (vmapped), recording the order parameters only
    (``eg_tasks=0``), and compare with the ODE from that state.

    With ``shrink_horizon`` each size is simulated up to its :func:`horizons` (α_max at the
    smallest), otherwise all to α_max; the errors are compared at the records common to all
    sizes (up to the largest size's horizon), the specialization times from each run's full
    records. Every run and the ODE must specialize within their horizons."""
    if cfg.Q0 is None:
        raise ValueError("convergence needs an explicit initial state (Q0, R0, a0)")
    theory = ode.integrate(cfg)
    t_ode = float(specialization_time(theory.alpha, theory.observables["specialization"]))
    if not np.isfinite(t_ode):
        raise ValueError(f"the ODE does not specialize by alpha_max = {cfg.alpha_max:g}")
    sizes = sorted(int(n) for n in sizes)
    ends = (horizons(cfg, t_ode, sizes) if shrink_horizon
            else {N: float(theory.alpha[-1]) for N in sizes})
    common = theory.alpha <= min(ends.values()) + 1e-9
    eg_sim, t_sim = [], []
    for N in sizes:
        alphas = theory.alpha[theory.alpha <= ends[N] + 1e-9]
        sim = simulator.simulate(cfg.replace(N=N), seeds=seeds, alphas=alphas,
                                 progress=False, eg_tasks=0)
        if not np.allclose(sim.alpha, alphas):
            raise ValueError(f"the records at N = {N} are not at the ODE's times: choose "
                             "record_every as a multiple of 1/N")
        eg_sim.append(sim.state_error()[:, :int(common.sum())])
        t = specialization_time(sim.alpha, sim.specialization())
        if not np.all(np.isfinite(t)):
            raise ValueError(f"not every run at N = {N} specializes by α = {ends[N]:g}: "
                             "increase alpha_max")
        t_sim.append(t)
    return Convergence(label, np.array(sizes, dtype=float), theory.alpha[common],
                       theory.eg[common], t_ode, eg_sim, t_sim)


def amplification(cfg: Config, alphas=None, h: float = 1e-6) -> np.ndarray:
    """Largest singular value of the tangent map ∂x(α)/∂x(0) of the ODE of ``cfg`` from its
    explicit initial state, x = (Q_ij i ≤ j, R, a) (:func:`metarep.linear.state_vector`), at
    the records ``alphas`` (default ``cfg.record_alphas``): central differences with step
    ``h`` in each coordinate, all runs in one batch. Shape (r,)."""
    K, M, learn = cfg.K, cfg.M, cfg.eta_head > 0
    x0 = np.asarray(state_vector(cfg.Q0_array, cfg.R0_array, cfg.a0_array, learn))
    n = len(x0)
    shifted = np.concatenate([x0 + h * np.eye(n), x0 - h * np.eye(n)])
    states = [state_from_vector(x, K, M, cfg.a0_array, learn) for x in shifted]
    run = ode.integrate_batch(cfg, alphas, states=ode.stack_states(
        [(np.asarray(st.Q), np.asarray(st.R), np.asarray(st.a)) for st in states]))
    X = np.asarray(state_vector(run.Q, run.R, run.a, learn))        # (2n, r, n)
    J = (X[:n] - X[n:]) / (2 * h)                                    # (n in, r, n out)
    return np.linalg.svd(np.moveaxis(J, 1, 0), compute_uv=False)[:, 0]


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


def odd_rate_along(cfg: Config, theory: Trajectory) -> np.ndarray:
    """The local escape rate λ_odd(α) along a theory trajectory in the teacher-symmetric
    subspace (no seed axis): at every record, the largest real part among the eigenvalues
    of the odd block of the Jacobian there (:func:`metarep.linear.odd_block`,
    :func:`metarep.linear.odd_rate`). Shape (r,)."""
    return linear.odd_rate(linear.odd_block(cfg, theory.Q, theory.R, theory.a))


def plot_convergence(convs: list):
    """Convergence through specialization, one column per :class:`Convergence`.

    Top: the ODE's meta-test error (line) and the seed mean of the runs (markers, ±1 s.e.)
    at the smallest and the largest N, with the ODE's specialization time (dotted). Bottom
    left: the spread over runs of the gap of ε_g (largest over α) against N; bottom right:
    the spread of the specialization-time gap; both log-log with ±1 s.e., the fitted power
    law (line) and its exponent in the legend."""
    colors = [f"C{i}" for i in range(len(convs))]
    with style():
        fig = plt.figure(figsize=(9.0, 6.2))
        grid = fig.add_gridspec(2, max(2, len(convs)), height_ratios=[1.0, 1.0])
        for c, cv in enumerate(convs):
            ax = fig.add_subplot(grid[0, c])
            ax.plot(cv.alpha, cv.eg_ode, color="k", lw=1.2, label="theory (ODE)")
            for i, mk in ((0, "o"), (len(cv.N) - 1, "s")):
                st = seed_stats(cv.eg_sim[i])
                ax.errorbar(cv.alpha, st.mean, yerr=st.sem, fmt=mk, ms=3.5, color=colors[c],
                            mfc="white" if i == 0 else colors[c], mew=0.9, elinewidth=0.8,
                            label=f"simulation, N = {int(cv.N[i])} ({cv.seeds} runs)",
                            zorder=3)
            ax.axvline(cv.t_ode, color="0.5", ls=":", lw=0.9,
                       label=r"ODE: specialization index $= 1/2$")
            ax.set_xlabel(ALPHA_LABEL)
            ax.set_ylabel(r"meta-test error $\epsilon_g$")
            ax.set_title(cv.label)
            ax.legend(fontsize=7.5)
        for col, (which, ylabel) in enumerate((
                ("eg", r"spread of $\epsilon_g - \epsilon_g^{\mathrm{ODE}}$ (largest over $\alpha$)"),
                ("t", r"spread of $\alpha_\mathrm{spec} - \alpha_\mathrm{spec}^{\mathrm{ODE}}$"))):
            ax = fig.add_subplot(grid[1, col])
            for c, cv in enumerate(convs):
                y = cv.spread(which)
                y_se = y / np.sqrt(2.0 * (cv.seeds - 1))
                p, p_se = cv.exponent(which)
                _, _, icpt = fit_line(np.log(cv.N), np.log(y), np.full(len(y), 1.0))
                ax.errorbar(cv.N, y, yerr=y_se, fmt="o", color=colors[c], mfc="white",
                            mew=1.0, elinewidth=0.8, label=cv.label)
                ax.plot(cv.N, np.exp(icpt + p * np.log(cv.N)), color=colors[c], lw=0.9,
                        label=rf"fit $\propto N^{{{p:.2f}\pm{p_se:.2f}}}$")
            ref = convs[0].N
            y0 = convs[0].spread(which)[0]
            ax.plot(ref, y0 * np.sqrt(ref[0] / ref), "--", color="k", lw=0.8,
                    label=r"$\propto N^{-1/2}$")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(ref, [f"{int(n)}" for n in ref])
            ax.minorticks_off()
            ax.set_xlabel("input dimension $N$")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=7.5)
    return fig


def plot_sensitivity(amplifications: dict, theory: Trajectory, sims: dict):
    """Why a symmetric start does not converge at accessible N.

    Left: the amplification (largest singular value of the ODE's tangent map, log scale)
    against α, one curve per entry of ``amplifications`` ({label: (alpha (r,), amp (r,))}).
    Right: the ODE from the symmetric start (line) and the seed mean of the runs from the
    same start (markers, ±1 s.e.; the closed-form error of their states) at each N of
    ``sims`` ({N: Trajectory with a seed axis})."""
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.3))
        ax = axes[0]
        for i, (label, (alpha, amp)) in enumerate(amplifications.items()):
            ax.plot(alpha, amp, color=f"C{i}", ls=["-", "--", "-.", ":"][i % 4], label=label)
        ax.set_yscale("log")
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"amplification $\|\partial x(\alpha)/\partial x(0)\|$")
        ax.legend(fontsize=7.5)
        ax = axes[1]
        ax.plot(theory.alpha, theory.eg, color="k", lw=1.2, label="theory (ODE)")
        colors = _size_colors(len(sims))
        for i, N in enumerate(sorted(sims)):
            st = seed_stats(sims[N].state_error(theory.config))
            ax.errorbar(sims[N].alpha, st.mean, yerr=st.sem, fmt="os^D"[i % 4], ms=3.5,
                        color=colors[i], mfc="white", mew=0.9, elinewidth=0.8,
                        label=f"simulation, N = {N} ({len(sims[N].seeds)} runs)", zorder=3)
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"meta-test error $\epsilon_g$")
        ax.legend(fontsize=7.5)
    return fig


__all__ = ["own_ode", "FiniteSize", "finite_size", "plateau_rate", "odd_rate_along",
           "Convergence", "horizons", "convergence", "amplification", "plot_finite_size_runs",
           "plot_finite_size_scaling", "plot_convergence", "plot_sensitivity"]
