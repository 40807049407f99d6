r"""Variability between tasks: teacher spread σ_B, readout statistics (v̄, σ_v), label noise σ.

Computations and figures of the book chapter *Variability between tasks*
(``book/task_variability.md``). The theory is :func:`metarep.ode.integrate`, run once per
value of one configuration key (:func:`scan_final`); every run of a chapter shares one
compiled ODE (same K, M, S and meta-gradient).

**The error floor of the teacher spread** (chapter equation ``eq-spread-floor``). For an
orthogonal meta-teacher (T = I), the private part σ_B Ξ^τ of a task's first layer is, given
the input, an independent Gaussian shift of each teacher field: ν^τ_m = c ν_m + σ_B ξ_m with
c = √(1−σ_B²), ξ_m ~ N(0, 1). For g(z) = erf(z/√2), E_ξ g(cν + σ_B ξ) = g(κν) with

    κ = c/√(1 + σ_B²)                                                        (optimal scale)

so the best predictor of a task with readout v is Σ_m v_m g(κ ν_m) — a network with body
W = κ B and head v — and no predictor can beat the conditional variance of the labels,

    ε_floor = ½ (‖v̄‖² + M σ_v²) [1/3 − (2/π) arcsin((1 − σ_B²)/2)] + σ²/2 .

In the theory's terms this is the oracle error ½⟨vᵀ(E − DᵀC⁻¹D)v⟩ + σ²/2 at Q = κ² I,
R = κ I (K = M): there C = D = (2/π) arcsin((1−σ_B²)/2) I and E = I/3.

**Label noise.** :func:`noise_excess` is the error above the noise-free run and the noise
floor σ²/2; :func:`noise_slope` its slope in σ² at σ → 0, which the chapter's boundary
argument predicts to be of order η (non-zero): the best bodies have no component orthogonal
to the teacher, Q_⊥ = Q − R T⁻¹ Rᵀ = 0 (:func:`orthogonal_gram`), where F has a non-zero
slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import matplotlib.pyplot as plt
import numpy as np

from metarep import metaloss, ode
from metarep.analysis import seed_stats, specialization_time
from metarep.plotting import (ALPHA_LABEL, draw_sim, label_error_and_specialization, style,
                              unit_colors)
from metarep.trajectory import Trajectory


# -- the error floor of the teacher spread --------------------------------------------------

def optimal_scale(spread) -> np.ndarray:
    """κ = √(1−σ_B²)/√(1+σ_B²): the scale of the body W = κB of the best predictor."""
    s2 = np.asarray(spread, dtype=float) ** 2
    return np.sqrt((1.0 - s2) / (1.0 + s2))


def error_floor(spread, v_bar, v_std: float, noise: float = 0.0) -> np.ndarray:
    """Lowest error of any predictor when T = I (Bayes error; see the module docstring).

    ε_floor = ½(‖v̄‖² + M σ_v²)[1/3 − (2/π) arcsin((1−σ_B²)/2)] + σ²/2. ``spread`` may be an
    array (the result has its shape); ``v_bar`` (M,) the mean readout, M = len(v_bar).
    """
    v_bar = np.atleast_1d(np.asarray(v_bar, dtype=float))
    s2 = np.asarray(spread, dtype=float) ** 2
    weight = 0.5 * (v_bar @ v_bar + v_bar.size * v_std**2)
    return weight * (1.0 / 3.0 - 2.0 / np.pi * np.arcsin((1.0 - s2) / 2.0)) + 0.5 * noise**2


def floor_state(cfg) -> tuple[np.ndarray, np.ndarray]:
    """(Q, R) = (κ² I, κ I) of the body W = κ B that attains :func:`error_floor` (K = M)."""
    if cfg.K != cfg.M:
        raise ValueError(f"floor_state needs K = M, got K = {cfg.K}, M = {cfg.M}")
    kappa = float(optimal_scale(cfg.teacher_spread))
    return kappa**2 * np.eye(cfg.K), kappa * np.eye(cfg.K)


# -- scans of one configuration key ---------------------------------------------------------

#: The error after s adaptation steps (``eq-metaloss`` with s for S), compiled once per s.
_error_after = jax.jit(metaloss.meta_test_error, static_argnames="steps")


@dataclass(frozen=True)
class FinalScan:
    """Final values of ODE runs over one configuration key (arrays of shape (n,)).

    key/values: the key scanned and its values; eta: the outer rate of the runs;
    eg: meta-test error F at α_max; oracle: oracle error; specialization: specialization index;
    alpha_spec: :func:`metarep.analysis.specialization_time` (∞: not specialized); eg_test: error after ``test_steps`` adaptation
    steps of rate ``test_eta_in`` at α_max (the same head initialisation and body).
    """

    key: str
    values: np.ndarray
    eta: float
    eg: np.ndarray
    oracle: np.ndarray
    specialization: np.ndarray
    alpha_spec: np.ndarray
    eg_test: np.ndarray
    test_eta_in: float
    test_steps: int

    def table(self) -> dict:
        """One row per scanned value: the key, ``eta``, ``eg``, ``oracle``,
        ``specialization``, ``alpha_spec`` (inf: not specialized) and ``eg_test``; columns for
        :func:`metarep.downloads.write_csv`."""
        return {self.key: self.values, "eta": self.eta, "eg": self.eg, "oracle": self.oracle,
                "specialization": self.specialization, "alpha_spec": self.alpha_spec,
                "eg_test": self.eg_test}


def scan_final(cfg, key: str, values, *, test_eta_in: float | None = None,
               test_steps: int | None = None) -> tuple[FinalScan, list[Trajectory]]:
    """Integrate the ODE of ``cfg`` with ``key`` set to each of ``values``; record the end.

    Returns the :class:`FinalScan` and the trajectories (records at ``cfg.record_alphas``).
    ``test_eta_in``/``test_steps`` (default: the configuration's η_in and S) define the
    adaptation of ``eg_test``. All runs share the compiled ODE of ``cfg`` (same K, M, S).
    """
    test_eta_in = cfg.eta_in if test_eta_in is None else float(test_eta_in)
    test_steps = cfg.inner_steps if test_steps is None else int(test_steps)
    values = np.asarray(values, dtype=float)
    trajs = [ode.integrate(cfg.replace(**{key: float(v)})) for v in values]
    eg_test = []
    for v, tr in zip(values, trajs):
        dist = metaloss.task_dist(cfg.replace(**{key: float(v)}), tr.T)
        eg_test.append(float(_error_after(tr.Q[-1], tr.R[-1], tr.a[-1], dist, test_eta_in,
                                          steps=test_steps)))
    last = lambda name: np.array([tr.observables[name][-1] for tr in trajs])  # noqa: E731
    scan = FinalScan(key=key, values=values, eta=cfg.eta,
                     eg=np.array([tr.eg[-1] for tr in trajs]), oracle=last("eg_oracle"),
                     specialization=last("specialization"),
                     alpha_spec=np.array([float(specialization_time(
                         tr.alpha, tr.observables["specialization"])) for tr in trajs]),
                     eg_test=np.array(eg_test), test_eta_in=test_eta_in, test_steps=test_steps)
    return scan, trajs


# -- label noise ----------------------------------------------------------------------------

def noise_excess(scan: FinalScan) -> np.ndarray:
    """The noise-driven excess ε_g(σ) − ε_g(0) − σ²/2 of a :class:`FinalScan` over
    ``label_noise`` that starts at σ = 0, (n,)."""
    if scan.key != "label_noise" or scan.values[0] != 0:
        raise ValueError("noise_excess needs a scan over label_noise that starts at 0")
    return scan.eg - scan.eg[0] - 0.5 * scan.values**2


def noise_slope(scan: FinalScan, degree: int = 3) -> tuple[float, float]:
    """(a₁, s.e.): the slope in σ² at σ² → 0 of :func:`noise_excess`, the linear coefficient of
    the least-squares polynomial Σ_{k=1..degree} a_k σ^{2k} (no constant term: the excess is 0
    at σ = 0). The standard error is the least-squares one from the residuals: for the
    deterministic ODE it measures the misfit of the polynomial, not noise."""
    x = scan.values[1:] ** 2
    y = noise_excess(scan)[1:]
    X = np.stack([x**k for k in range(1, degree + 1)], axis=1)
    if len(y) <= degree:
        raise ValueError(f"noise_slope needs more than {degree} noise levels above 0")
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = y - X @ coef
    cov = resid @ resid / (len(y) - degree) * np.linalg.inv(X.T @ X)
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


def orthogonal_gram(Q, R, T=None) -> np.ndarray:
    """Q_⊥ = Q − R T⁻¹ Rᵀ (..., K, K): the Gram matrix W_⊥ W_⊥ᵀ/N of the parts of the body
    orthogonal to the teacher's rows, positive semi-definite for every real body (T defaults
    to the identity)."""
    Q, R = np.asarray(Q, dtype=float), np.asarray(R, dtype=float)
    T = np.eye(R.shape[-1]) if T is None else np.asarray(T, dtype=float)
    return Q - R @ np.linalg.solve(T, np.swapaxes(R, -1, -2))


def _sim_every(sim: Trajectory) -> int:
    return max(1, len(sim.alpha) // 15)


# -- figures --------------------------------------------------------------------------------

def plot_spread_dynamics(odes: dict[float, Trajectory], floors: dict[float, float],
                         sim: Trajectory | None = None):
    """Meta-test error and specialization index against α for several teacher spreads.

    ``odes``: σ_B → ODE trajectory (lines); ``floors``: σ_B → :func:`error_floor` (dotted);
    ``sim``: a simulation with seeds at one of the σ_B (markers, seed mean ± s.e.).
    """
    spreads = list(odes)
    colors = unit_colors(len(spreads))
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(8.0, 2.9))
        for c, s in zip(colors, spreads):
            tr = odes[s]
            axes[0].plot(tr.alpha, tr.eg, color=c, label=rf"$\sigma_B = {s:g}$")
            if floors[s] > 0:                      # (no floor to draw on a log axis at 0)
                axes[0].axhline(floors[s], color=c, ls=":", lw=1.0)
            axes[1].plot(tr.alpha, tr.observables["specialization"], color=c,
                         label=rf"$\sigma_B = {s:g}$")
        if sim is not None:
            s = sim.config.teacher_spread
            c = colors[spreads.index(s)] if s in spreads else "k"
            mean, sem = sim.seed_mean(), sim.seed_sem()
            every = _sim_every(sim)
            label = f"simulation, N = {sim.config.N}"
            draw_sim(axes[0], mean.alpha, mean.eg, sem.eg, c, label, every)
            spec = seed_stats(sim.specialization())
            draw_sim(axes[1], sim.alpha, spec.mean, spec.sem, c, label, every)
        axes[0].plot([], [], color="0.4", ls=":", lw=1.0, label="error floor")
        label_error_and_specialization(*axes)
        for ax in axes:
            ax.legend()
    return fig


def plot_spread_floor(scans: list[FinalScan], spread_grid, floor):
    """Final errors and specialization against the teacher spread, for one or more η.

    ``scans``: :class:`FinalScan` over ``teacher_spread`` (one per outer rate η);
    ``spread_grid``, ``floor``: the curve :func:`error_floor` (black, dotted).
    Left: meta-test error (solid, circles) and oracle error (dashed, squares); right: final
    specialization index.
    """
    colors = unit_colors(len(scans))
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(8.0, 2.9))
        axes[0].plot(spread_grid, floor, color="k", ls=":", label=r"floor $\epsilon_\mathrm{floor}$")
        for c, sc in zip(colors, scans):
            axes[0].plot(sc.values, sc.eg, "o-", color=c, mfc="white",
                         label=rf"$\epsilon_g$, $\eta = {sc.eta:g}$")
            axes[0].plot(sc.values, sc.oracle, "s--", color=c, ms=3,
                         label=rf"oracle, $\eta = {sc.eta:g}$")
            axes[1].plot(sc.values, sc.specialization, "o-", color=c, mfc="white",
                         label=rf"$\eta = {sc.eta:g}$")
        axes[0].set_ylabel(r"error at $\alpha_\mathrm{max}$")
        axes[1].set_ylabel(r"specialization index at $\alpha_\mathrm{max}$")
        axes[1].set_ylim(-0.03, 1.03)
        for ax in axes:
            ax.set_xlabel(r"teacher spread $\sigma_B$")
            ax.legend()
    return fig


def plot_readout(odes: dict[float, Trajectory], sims: dict[float, Trajectory],
                 scans: dict[float, FinalScan]):
    """The inner loop against plain multi-task SGD (η_in = 0).

    Left: meta-test error against α at one readout mean (``odes``: η_in → ODE trajectory,
    ``sims``: η_in → simulation with seeds). Middle and right, against v̄ (``scans``:
    η_in → :class:`FinalScan` over ``v_mean``): the oracle error (quality of the
    representation) and the error after the scan's test-time adaptation.
    """
    etas = sorted(set(odes) | set(scans))
    colors = dict(zip(etas, unit_colors(len(etas))))
    name = lambda e: ("multi-task SGD" if e == 0 else "meta-learning") + \
        rf" ($\eta_\mathrm{{in}} = {e:g}$)"  # noqa: E731
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(10.0, 2.9))
        for e, tr in odes.items():
            axes[0].plot(tr.alpha, tr.eg, color=colors[e], label=name(e))
        for e, sim in sims.items():
            mean, sem = sim.seed_mean(), sim.seed_sem()
            draw_sim(axes[0], mean.alpha, mean.eg, sem.eg, colors[e],
                     f"simulation, N = {sim.config.N}" if e == max(sims) else None,
                     _sim_every(sim))
        ref = next(iter(odes.values())).config
        axes[0].set_title(rf"$\bar v = {float(np.mean(ref.v_bar)):g}$, "
                          rf"$\sigma_v = {ref.v_std:g}$")
        axes[0].set_xlabel(ALPHA_LABEL)
        axes[0].set_ylabel(r"meta-test error $\epsilon_g$")
        axes[0].set_yscale("log")
        for e, sc in scans.items():
            axes[1].plot(sc.values, sc.oracle, "o-", color=colors[e], mfc="white", label=name(e))
            axes[2].plot(sc.values, sc.eg_test, "o-", color=colors[e], mfc="white",
                         label=name(e))
        sc = next(iter(scans.values()))
        axes[1].set_ylabel(r"oracle error at $\alpha_\mathrm{max}$")
        axes[2].set_ylabel(rf"error after {sc.test_steps} step(s), "
                           rf"$\eta_\mathrm{{in}} = {sc.test_eta_in:g}$")
        for ax in axes[1:]:
            ax.set_xlabel(r"readout mean $\bar v$")
            ax.set_yscale("log")
        for ax in axes:
            ax.legend()
    return fig


def plot_label_noise(scans: list[FinalScan]):
    """Excess meta-test error ε_g − σ²/2 at α_max against σ², one line per outer rate η.

    ``scans``: :class:`FinalScan` over ``label_noise``, starting at σ = 0. Right: the increase
    over σ = 0 divided by η, which collapses the lines if the noise-driven excess is ∝ η σ².
    """
    if any(sc.values[0] != 0 for sc in scans):
        raise ValueError("plot_label_noise needs scans that start at label_noise = 0")
    colors = unit_colors(len(scans))
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(8.0, 2.9))
        for c, sc in zip(colors, scans):
            s2 = sc.values**2
            excess = sc.eg - 0.5 * s2
            axes[0].plot(s2, excess, "o-", color=c, mfc="white", label=rf"$\eta = {sc.eta:g}$")
            axes[1].plot(s2, (excess - excess[0]) / sc.eta, "o-", color=c, mfc="white",
                         label=rf"$\eta = {sc.eta:g}$")
        axes[0].set_ylabel(r"$\epsilon_g - \sigma^2/2$ at $\alpha_\mathrm{max}$")
        axes[1].set_ylabel(r"$[\epsilon_g(\sigma) - \epsilon_g(0) - \sigma^2/2]\,/\,\eta$")
        for ax in axes:
            ax.set_xlabel(r"label-noise variance $\sigma^2$")
            ax.legend()
    return fig


__all__ = ["optimal_scale", "error_floor", "floor_state", "FinalScan", "scan_final",
           "noise_excess", "noise_slope", "orthogonal_gram", "plot_spread_dynamics",
           "plot_spread_floor", "plot_readout", "plot_label_noise"]
