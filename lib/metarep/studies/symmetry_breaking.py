r"""Why the plateau ends: the computations and figures of the chapter *Why the plateau ends:
symmetry breaking* (``book/symmetry_breaking.md``).

The linear analysis is in the core (:mod:`metarep.linear`): the teacher-symmetric subspace,
the plateau fixed point x* in it (:func:`metarep.linear.plateau_fixed_point`), the Jacobian
there and its even and odd modes (:func:`metarep.linear.modes`), and the odd block of the
Jacobian along any trajectory (:func:`metarep.linear.odd_block`, its frozen-time rate
:func:`metarep.linear.odd_rate` and its variational propagator
:func:`metarep.linear.odd_propagator`). Specialization is the growth of the odd part of R; a
perturbation of size δ along the fixed point's leading odd mode leaves the plateau after
α ≈ (1/λ) ln(1/δ) + const (:func:`escape_scan`). From a random initialisation δ = O(1/√N)
(:func:`size_scan_ode`, :func:`size_scan_sim`), and the odd part grows at the frozen-time
rate λ_odd(α) of the part of the plateau the run visits, not at the fixed point's λ
(:func:`odd_rates`).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from metarep import drift, linear, ode
from metarep.analysis import crossing_time, fit_line, seed_stats, specialization_time
from metarep.config import Config
from metarep.initial import initial_order_parameters
from metarep.linear import (FixedPoint, Modes, odd_block, odd_coordinates, odd_propagator,
                            odd_rate, state_from_vector, state_vector, symmetry_breaking,
                            teacher_symmetric_projection)
from metarep.plotting import ALPHA_LABEL, draw_sim, style


def relaxed_plateau(cfg: Config, guess, relax: float, T=None) -> FixedPoint:
    """The plateau fixed point (:func:`metarep.linear.plateau_fixed_point`) from ``guess`` =
    (Q, R, a), e.g. a random initial state: projected onto the teacher-symmetric subspace
    (R → R̄ 1ᵀ), reflected unit by unit so that every R̄_k ≥ 0 (the reflection
    (W_k, a_k) → (−W_k, −a_k) is a symmetry of the ODE: the fixed point found is then the
    one with positive overlaps), and integrated for ``relax`` units of α inside that invariant
    subspace, where the plateau attracts; Newton's method finishes."""
    Q, R, a = (np.asarray(v, dtype=float) for v in guess)
    R = teacher_symmetric_projection(R)
    sign = np.where(R[:, 0] < 0, -1.0, 1.0)
    Q, R, a = np.outer(sign, sign) * Q, sign[:, None] * R, sign * a
    run = ode.integrate_batch(cfg, np.array([0.0, relax]),
                              states=ode.stack_states([(Q, R, a)]), T=T)
    return linear.plateau_fixed_point(cfg, (run.Q[0, -1], run.R[0, -1], run.a[0, -1]), T=T)


def even_rates(md: Modes) -> np.ndarray:
    """The real parts of the even modes' eigenvalues (sorted decreasingly): the slowest
    (closest to zero) is the rate at which the plateau drifts towards the fixed point."""
    return np.sort(md.eigenvalues.real[~md.odd])[::-1]


def linear_window(alpha, breaking, delta: float, rise: float = 10.0,
                  top: float = 1e-3) -> np.ndarray:
    """Records of a run started at x* + δ u where its odd part ``breaking`` (n,) lies in the
    linear regime of the escape: it has grown by the factor ``rise`` (the faster-decaying
    modes excited at the start are gone) and is still below ``top`` (far from O(1))."""
    b = np.asarray(breaking, dtype=float)
    return np.flatnonzero((b >= rise * delta) & (b <= top))


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

@dataclass(frozen=True)
class SizeScan:
    """The ODE from random initial states at several N: Ns (G,), seeds (S,), alpha (n,),
    Q (G, S, n, K, K), R (G, S, n, K, M), a (G, S, n, K), s (G, S, n) the specialization
    index, t_spec (G, S) the specialization times (∞ where not reached)."""

    Ns: np.ndarray
    seeds: np.ndarray
    alpha: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    s: np.ndarray
    t_spec: np.ndarray


def size_scan_ode(cfg: Config, Ns, seeds, alphas) -> SizeScan:
    """The ODE started from the random initial overlaps of each (N, seed) — the only trace of
    N in the ODE is its initial condition (one vmapped integration). A seed draws the same
    standard normals at every N, so its initial odd part is the same vector times N^(−1/2)."""
    Ns, seeds = np.asarray(Ns, dtype=int), np.asarray(seeds, dtype=int)
    ops = [initial_order_parameters(cfg.replace(N=int(n), seed=int(s)))
           for n in Ns for s in seeds]
    run = ode.integrate_batch(cfg, alphas,
                              states=ode.stack_states([(o.Q, o.R, o.a) for o in ops]),
                              hypers=ode.stack_hypers([drift.hyper(cfg, o.T) for o in ops]),
                              labels=[f"N = {n}, seed {s}" for n in Ns for s in seeds])
    shape = (len(Ns), len(seeds))
    s = run.observables["specialization"]
    grid = lambda x: x.reshape(*shape, *x.shape[1:])  # noqa: E731
    return SizeScan(Ns, seeds, run.alpha, grid(run.Q), grid(run.R), grid(run.a), grid(s),
                    specialization_time(run.alpha, s).reshape(shape))


def seed_slopes(Ns, t) -> np.ndarray:
    """Least-squares slope of t (G, S) against ln N (G,) for each seed (column): (S,)."""
    x = np.log(np.asarray(Ns, dtype=float))
    return np.array([fit_line(x, col)[0] for col in np.asarray(t, dtype=float).T])


@dataclass(frozen=True)
class OddRates:
    """The odd part of every run of a :class:`SizeScan` while it is small (records before it
    reaches ``level``; NaN after), and the ln N law it implies.

    Per run (G, S, n): ``rate`` λ_odd(α), the frozen-time rate at the teacher-symmetric
    projection of the state (:func:`metarep.linear.odd_rate`); ``gap`` λ_odd − the next real
    part of the odd block; ``breaking`` the ODE's odd part ‖R − R̄ 1ᵀ‖; ``growth`` its
    prediction |Φ(α) φ(0)| by the variational equation along the run
    (:func:`metarep.linear.odd_propagator`). Per run (G, S): ``t_level`` the time at which the
    odd part reaches ``level``; ``linear_error`` max |growth/breaking − 1| before that.

    Per seed (S,), from its runs at the smallest and the largest N: ``window`` (S, 2) =
    [t_level at N_min, t_level at N_max], the part of the plateau where the extra time of the
    larger N is spent; ``mean_rate`` λ̄, the time average of λ_odd over the window along the
    largest-N run (still on the plateau there); ``predicted`` = 1/(2 λ̄); ``slope`` the
    measured (t_level(N_max) − t_level(N_min))/ln(N_max/N_min); ``adiabatic`` the growth
    exponent's departure from the frozen-time one over the window,
    ln G(α₂) − ln G(α₁) − ∫ λ_odd dα; ``adiabatic_parameter`` ε = max ‖dB/dα‖/gap² over the
    window (B the odd block: first-order adiabatic theory bounds the departure by about 2ε);
    ``path`` the departure L_{N_max}(α₁) − L_{N_min}(α₁), L_N = ln G + ½ ln N, due to the
    N-dependence of the plateau path (zero if the path were the same at every N).
    """

    level: float
    alpha: np.ndarray
    rate: np.ndarray
    gap: np.ndarray
    breaking: np.ndarray
    growth: np.ndarray
    t_level: np.ndarray
    linear_error: np.ndarray
    window: np.ndarray
    mean_rate: np.ndarray
    predicted: np.ndarray
    slope: np.ndarray
    adiabatic: np.ndarray
    adiabatic_parameter: np.ndarray
    path: np.ndarray


def _cumulative(alpha, x) -> np.ndarray:
    """Trapezoidal ∫_{alpha[0]}^{alpha[i]} x dα at every record i."""
    return np.concatenate([[0.0], np.cumsum(0.5 * np.diff(alpha) * (x[1:] + x[:-1]))])


def odd_rates(cfg: Config, scan: SizeScan, level: float) -> OddRates:
    """The odd-block analysis of :class:`OddRates` for every run of ``scan`` (which must have
    a symmetric teacher, T ∝ I, and reach the odd part ``level`` in every run)."""
    K, M = cfg.K, cfg.M
    alpha = scan.alpha
    breaking = symmetry_breaking(scan.R)                                        # (G, S, n)
    t_level = crossing_time(alpha, breaking, level)
    if not np.all(np.isfinite(t_level)):
        raise ValueError(f"some runs never reach the odd part {level}: extend the records")
    last = int(np.searchsorted(alpha, t_level.max())) + 1
    al = alpha[:last]
    blocks = odd_block(cfg, scan.Q[:, :, :last], scan.R[:, :, :last], scan.a[:, :, :last])
    ev = np.sort(np.linalg.eigvals(blocks).real, axis=-1)
    rate = odd_rate(blocks)
    gap = ev[..., -1] - ev[..., -2] if ev.shape[-1] > 1 else np.full(rate.shape, np.inf)
    phi0 = odd_coordinates(scan.R[:, :, 0], K, M)
    growth = np.linalg.norm(np.einsum("gsnij,gsj->gsni", odd_propagator(al, blocks), phi0),
                            axis=-1)
    before = al[None, None, :] <= t_level[..., None]
    br = breaking[..., :last]
    linear_error = np.nanmax(np.where(before, np.abs(growth / br - 1.0), np.nan), axis=-1)
    nan = lambda x: np.where(before, x, np.nan)  # noqa: E731
    S = len(scan.seeds)
    window = np.stack([t_level[0], t_level[-1]], axis=1)
    mean_rate, adiabatic, eps, path = (np.empty(S) for _ in range(4))
    dB = np.linalg.norm(np.gradient(blocks[-1], al, axis=1), axis=(-2, -1))     # (S, n)
    big, small = float(scan.Ns[-1]), float(scan.Ns[0])
    for j in range(S):
        lo, hi = window[j]
        cum = _cumulative(al, rate[-1, j])
        integral = np.interp(hi, al, cum) - np.interp(lo, al, cum)
        mean_rate[j] = integral / (hi - lo)
        lnG = np.log(growth[-1, j])
        adiabatic[j] = np.interp(hi, al, lnG) - np.interp(lo, al, lnG) - integral
        keep = (al >= lo) & (al <= hi)
        eps[j] = float(np.max(dB[j, keep] / gap[-1, j, keep] ** 2))
        path[j] = (np.interp(lo, al, lnG) + 0.5 * np.log(big)
                   - np.interp(lo, al, np.log(growth[0, j])) - 0.5 * np.log(small))
    slope = (t_level[-1] - t_level[0]) / np.log(big / small)
    return OddRates(float(level), al, nan(rate), nan(gap), br, nan(growth), t_level,
                    linear_error, window, mean_rate, 0.5 / mean_rate, slope, adiabatic, eps,
                    path)


def norm_spread(scan: SizeScan, at) -> np.ndarray:
    """How unequal the units of each seed's largest-N run are at the times ``at`` (S,): the
    relative spread (max_k Q_kk − min_k Q_kk)/mean_k Q_kk of the norms, (S,), linearly
    interpolated between records. It is 0 at the symmetric fixed point; the slow even mode
    (:func:`even_rates`) is what lets it decay."""
    Q = np.asarray(scan.Q[-1], dtype=float)                                    # (S, n, K, K)
    norms = np.diagonal(Q, axis1=-2, axis2=-1)                                 # (S, n, K)
    spread = (norms.max(axis=-1) - norms.min(axis=-1)) / norms.mean(axis=-1)   # (S, n)
    return np.array([np.interp(t, scan.alpha, row) for t, row in zip(np.asarray(at), spread)])


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


def plot_odd_rates(odd: OddRates, Ns, rate: float, slope_spec=None):
    """(a) The frozen-time odd rate λ_odd(α) along every run of a size scan while its odd
    part is small (colour: N), with the fixed point's rate λ (dashed). (b) Per seed, the
    measured ln N slope of the time at which the odd part reaches ``odd.level`` against the
    prediction 1/(2λ̄) of the rate averaged over the window, with the diagonal and the
    fixed point's prediction 1/(2λ) (dotted); ``slope_spec`` (S,), if given: the seeds' slopes
    of the specialization time α_s (open markers)."""
    Ns = np.asarray(Ns)
    cmap = plt.get_cmap("viridis")
    with style():
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8.0, 3.2))
        for g, n in enumerate(Ns):
            col = cmap(g / max(len(Ns) - 1, 1))
            for j in range(odd.rate.shape[1]):
                ax.plot(odd.alpha, odd.rate[g, j], color=col, lw=0.6,
                        label=f"N = {n}" if j == 0 else None)
        ax.axhline(rate, color="k", ls="--", lw=1.0,
                   label=rf"fixed point, $\lambda = {rate:.3g}$")
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(r"odd rate $\lambda_\mathrm{odd}(\alpha)$")
        ax.legend(ncol=2, fontsize=6.5, loc="lower right")
        lo = min(np.nanmin(odd.predicted), np.nanmin(odd.slope)) * 0.95
        hi = 0.5 / rate * 1.05
        ax2.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, label="measured = predicted")
        ax2.axvline(0.5 / rate, color="k", ls=":", lw=1.0,
                    label=r"fixed point: $1/(2\lambda)$")
        ax2.plot(odd.predicted, odd.slope, "o", color="C3",
                 label=f"odd part reaches {odd.level:g}")
        if slope_spec is not None:
            ax2.plot(odd.predicted, slope_spec, "s", color="C0", mfc="white",
                     label=r"specialization time $\alpha_s$")
        ax2.set_xlim(lo, hi)
        ax2.set_xlabel(r"predicted slope $1/(2\bar\lambda_\mathrm{odd})$")
        ax2.set_ylabel(r"measured slope $d\alpha/d\ln N$")
        ax2.legend(loc="lower right")
    return fig


def plot_size_scaling(Ns, t_ode, t_sim, lines):
    """Specialization time vs N (log axis): ODE from random finite-N initial states (mean ±
    s.e. over seeds, markers), simulations (mean ± s.e.), and lines (1/2λ) ln N + c for each
    ``(rate, intercept, label)`` of ``lines`` (the first solid, the others dashed). t_ode
    (len(Ns), seeds); ``t_sim = (Ns_sim, times (len(Ns_sim), seeds))`` or None."""
    Ns = np.asarray(Ns, dtype=float)
    with style():
        fig, ax = plt.subplots(figsize=(4.8, 3.3))
        nn = np.geomspace(Ns.min() / 1.5, Ns.max() * 1.5, 50)
        for i, (rate, intercept, label) in enumerate(lines):
            ax.plot(nn, np.log(nn) / (2 * rate) + intercept, color="k" if i == 0 else "0.5",
                    ls="-" if i == 0 else "--", label=label)

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


__all__ = ["relaxed_plateau", "even_rates", "linear_window", "EscapeScan", "escape_scan",
           "SizeScan", "size_scan_ode", "seed_slopes", "OddRates", "odd_rates",
           "norm_spread", "size_scan_sim", "plot_spectrum", "plot_escape", "plot_odd_rates",
           "plot_size_scaling"]
