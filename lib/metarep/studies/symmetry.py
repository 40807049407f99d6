r"""Why the plateau ends: the unspecialized fixed point, its instability, and escape times.

Computations for the chapter *Why the plateau ends: symmetry breaking*
(``book/symmetry_breaking.md``).

When T ∝ I, all v̄_m are equal and the readouts are isotropic, swapping two meta-teacher units
is a symmetry of the task distribution, so the ODE commutes with it and the
**teacher-symmetric subspace** R = r 1ᵀ (every student unit overlaps equally with every
teacher unit; Q and a free) is invariant. The plateau is a fixed point x* of the ODE in that
subspace (:func:`plateau_fixed_point`). The Jacobian there splits into a block *inside* the
subspace (even under the swap) and one *across* it (odd); specialization is the growth of an
odd mode, at the rate λ = the largest eigenvalue of the odd block (:func:`modes`). A
perturbation of size δ along it leaves the plateau after α ≈ (1/λ) ln(1/δ) + const
(:func:`escape_scan`); from a random initialisation δ = O(1/√N), hence a plateau growing like
(1/2λ) ln N (:func:`size_scan_ode`, :func:`size_scan_sim`).

Coordinates of a state vector x are those of :func:`metarep.observables.jacobian`:
(Q_ij for i ≤ j, R_km row-major, a_k if the head is learned).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from metarep import ode, observables
from metarep.config import Config
from metarep.initial import initial_order_parameters
from metarep.observables import FixedPoint, specialization_index
from metarep.plotting import ALPHA_LABEL, draw_sim, style
from metarep.trajectory import Trajectory
from metarep.studies.dynamics import crossing_time, integrate_batch, phases


# -- states as vectors ------------------------------------------------------------------------

def state_vector(Q, R, a, learn_head: bool) -> np.ndarray:
    """x = (Q_ij for i ≤ j, R_km row-major, a_k if ``learn_head``), the Jacobian's coordinates."""
    Q, R, a = (np.asarray(v, dtype=float) for v in (Q, R, a))
    iu = np.triu_indices(Q.shape[-1])
    return np.concatenate([Q[iu], R.ravel()] + ([a] if learn_head else []))


def state_from_vector(x, K: int, M: int, a_fixed, learn_head: bool):
    """Inverse of :func:`state_vector`: (Q (K, K) symmetric, R (K, M), a (K,)); the head is
    ``a_fixed`` when it is not learned."""
    x = np.asarray(x, dtype=float)
    iu = np.triu_indices(K)
    nq = len(iu[0])
    U = np.zeros((K, K))
    U[iu] = x[:nq]
    Q = U + U.T - np.diag(np.diag(U))
    R = x[nq:nq + K * M].reshape(K, M)
    a = x[nq + K * M:] if learn_head else np.asarray(a_fixed, dtype=float)
    return Q, R, a


def symmetry_breaking(R):
    """‖R − R̄ 1ᵀ‖_F, R̄ the row means: distance of R (..., K, M) from the teacher-symmetric
    subspace (0 on the plateau's subspace, O(1) once specialized)."""
    R = np.asarray(R, dtype=float)
    return np.sqrt(((R - R.mean(axis=-1, keepdims=True)) ** 2).sum(axis=(-2, -1)))


# -- the fixed point --------------------------------------------------------------------------

def _check_symmetric(cfg: Config, T) -> None:
    vb = np.asarray(cfg.v_bar)
    if not (np.allclose(T, T[0, 0] * np.eye(cfg.M)) and np.allclose(vb, vb[0])):
        raise ValueError("the teacher-symmetric subspace is invariant only for T ∝ I and "
                         "equal v_mean entries")


@partial(jax.jit, static_argnames=("K", "M", "steps", "first_order", "learn_head"))
def _reduced(y, a_fixed, hp, K, M, steps, first_order, learn_head):
    """Vector field restricted to R = r 1ᵀ, in coordinates y = (Q_ij i ≤ j, r, a), and its
    Jacobian in y (one compiled function for Newton's method)."""
    iu = jnp.triu_indices(K)
    nq = len(iu[0])

    def field(y):
        U = jnp.zeros((K, K)).at[iu].set(y[:nq])
        Q = U + U.T - jnp.diag(jnp.diagonal(U))
        R = jnp.outer(y[nq:nq + K], jnp.ones(M))
        a = y[nq + K:] if learn_head else a_fixed
        d = ode.vector_field(ode.State(Q, R, a), hp, steps, first_order)
        parts = [d.Q[iu], d.R.mean(axis=1)] + ([d.a] if learn_head else [])
        return jnp.concatenate(parts)

    return field(y), jax.jacfwd(field)(y)


def plateau_fixed_point(cfg: Config, guess, T=None, relax: float = 0.0, tol: float = 1e-11,
                        max_iter: int = 40, n_grid: int = 2,
                        pad_to: int | None = None) -> FixedPoint:
    """The unspecialized fixed point: Newton's method in the teacher-symmetric subspace.

    ``guess`` = (Q, R, a), e.g. a plateau state of a trajectory (:func:`plateau_state`); its R
    is replaced by its row means (projected onto the subspace). With ``relax`` > 0 the ODE is
    first integrated for that long from the projected guess (it stays in the invariant
    subspace, where the plateau is attracting but may be approached slowly; ``n_grid`` records
    and ``pad_to`` are passed to :func:`~metarep.studies.dynamics.integrate_batch` so that it
    can reuse a compiled program). Unlike
    :func:`metarep.observables.unspecialized_fixed_point`, the student units may differ (Q and
    a are free), which is what the plateau of a learned head looks like. Returns a
    :class:`~metarep.observables.FixedPoint` with the full Jacobian. Raises ValueError if the
    subspace is not invariant or Newton's method fails.
    """
    T = np.eye(cfg.M) if T is None else np.asarray(T, dtype=float)
    _check_symmetric(cfg, T)
    K, M = cfg.K, cfg.M
    learn_head = cfg.eta_head > 0
    Q0, R0, a0 = (np.asarray(v, dtype=float) for v in guess)
    if relax > 0:        # follow the (invariant) subspace's own dynamics towards the plateau
        Rp = np.outer(R0.mean(axis=1), np.ones(M))
        Qs, Rs, As, _, _ = integrate_batch(cfg, [Q0], [Rp], [a0], np.linspace(0, relax, n_grid),
                                           T=T, pad_to=pad_to)
        Q0, R0, a0 = Qs[0, -1], Rs[0, -1], As[0, -1]
    iu = np.triu_indices(K)
    y = jnp.asarray(np.concatenate([Q0[iu], R0.mean(axis=1)] + ([a0] if learn_head else [])))
    hp = ode.hyper(cfg, T)
    args = (jnp.asarray(a0), hp, K, M, cfg.inner_steps, cfg.first_order, learn_head)
    res, jac = _reduced(y, *args)
    for _ in range(max_iter):                     # damped Newton: halve the step until the
        norm = float(jnp.max(jnp.abs(res)))       # residual decreases
        if norm < tol:
            break
        step = jnp.linalg.solve(jac, res)
        for _ in range(30):
            y_new = y - step
            res_new, jac_new = _reduced(y_new, *args)
            if np.isfinite(float(jnp.max(jnp.abs(res_new)))) and \
                    float(jnp.max(jnp.abs(res_new))) < norm:
                break
            step = step / 2
        y, res, jac = y_new, res_new, jac_new
    nq = len(iu[0])
    y = np.asarray(y)
    x = np.concatenate([y[:nq], np.repeat(y[nq:nq + K], M)] + ([y[nq + K:]] if learn_head
                                                                   else []))
    Q, R, a = state_from_vector(x, K, M, a0, learn_head)
    d = ode.rhs((Q, R, a), cfg, T)
    residual = float(max(np.abs(np.asarray(v)).max() for v in
                         ((d.Q, d.R, d.a) if learn_head else (d.Q, d.R))))
    if not np.isfinite(residual) or residual > 1e3 * tol:
        raise ValueError(f"Newton's method did not find a fixed point in the teacher-symmetric "
                         f"subspace (residual {residual:.3g}); start from a plateau state")
    J, _ = observables.jacobian((Q, R, a), hp, cfg.inner_steps, cfg.first_order, learn_head)
    ev = observables.leading_eigenvalues(J, n=J.shape[0])
    return FixedPoint(Q, R, a, residual, J, ev, float(ev[0].real))


def plateau_state(traj):
    """(Q, R, a) of a theory trajectory (no seed axis) on its plateau: the record between the
    end of the escape and the onset of specialization (:func:`~metarep.studies.dynamics.phases`)
    where the state moves slowest."""
    ph = phases(traj)
    inside = np.flatnonzero((traj.alpha >= ph.escape) & (traj.alpha <= ph.onset))
    x = np.stack([state_vector(traj.Q[i], traj.R[i], traj.a[i], True)
                  for i in range(len(traj.alpha))])
    speed = np.linalg.norm(np.gradient(x, traj.alpha, axis=0), axis=1)
    i = inside[np.argmin(speed[inside])]
    return traj.Q[i], traj.R[i], traj.a[i]


@dataclass(frozen=True)
class Modes:
    """Eigen-decomposition of the Jacobian at a fixed point, sorted by decreasing real part.

    eigenvalues (n,), vectors (n, n) (column i ↔ eigenvalue i, real parts, unit norm),
    odd (n,) bool: the mode is odd under swapping the teacher units (it leaves the
    teacher-symmetric subspace: only its R part is non-zero and R's columns sum to zero);
    ``rate``: the largest real part among odd modes (the escape rate λ); ``lead``: index of
    that mode.
    """

    eigenvalues: np.ndarray
    vectors: np.ndarray
    odd: np.ndarray
    rate: float
    lead: int


def modes(J, K: int, M: int, learn_head: bool) -> Modes:
    """Classify the eigenvectors of a Jacobian J (e.g. ``FixedPoint.J``) at a state of the
    teacher-symmetric subspace as even (inside the subspace) or odd (across it); see
    :class:`Modes`."""
    w, V = np.linalg.eig(np.asarray(J))
    order = np.argsort(-w.real)
    w, V = w[order], V[:, order]
    V = np.real(V)
    V = V / np.linalg.norm(V, axis=0, keepdims=True)
    odd = np.zeros(len(w), dtype=bool)
    for i in range(len(w)):
        Q, R, a = state_from_vector(V[:, i], K, M, np.zeros(K), learn_head)
        inside = np.linalg.norm(R - R.mean(axis=1, keepdims=True))
        odd[i] = inside > 0.99 * np.linalg.norm(V[:, i])
    if not odd.any():
        raise ValueError("no mode leaves the teacher-symmetric subspace")
    lead = int(np.flatnonzero(odd)[np.argmax(w.real[odd])])
    return Modes(w, V, odd, float(w[lead].real), lead)


def local_modes(cfg: Config, state, T=None) -> Modes:
    """:func:`modes` of the Jacobian at ``state`` = (Q, R, a) projected onto the
    teacher-symmetric subspace (R → row means). On a slowly moving plateau that is not yet the
    fixed point, the odd modes still govern how small asymmetries grow: ``rate`` is the local
    escape rate."""
    Q, R, a = (np.asarray(v, dtype=float) for v in state)
    R = np.outer(R.mean(axis=1), np.ones(R.shape[1]))
    learn_head = cfg.eta_head > 0
    J, _ = observables.jacobian((Q, R, a), ode.hyper(cfg, T), cfg.inner_steps,
                                cfg.first_order, learn_head)
    return modes(J, cfg.K, cfg.M, learn_head)


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


def escape_scan(cfg: Config, fp: FixedPoint, md: Modes, deltas, alphas,
                pad_to: int | None = None) -> EscapeScan:
    """Integrate the ODE from the fixed point displaced by δ along the leading odd mode, for
    each δ in ``deltas`` (one vmapped integration, padded to ``pad_to``)."""
    K, M = cfg.K, cfg.M
    learn_head = cfg.eta_head > 0
    x0 = state_vector(fp.Q, fp.R, fp.a, learn_head)
    u = md.vectors[:, md.lead]
    starts = [state_from_vector(x0 + d * u, K, M, fp.a, learn_head) for d in deltas]
    Q, R, a, eg, extra = integrate_batch(cfg, *zip(*starts), alphas, pad_to=pad_to)
    s = extra["specialization"]
    return EscapeScan(np.asarray(deltas, dtype=float), np.asarray(alphas, dtype=float),
                      symmetry_breaking(R), s, eg, crossing_time(alphas, s, 0.5))


def fit_log_law(x, t, slope=None):
    """Least-squares line t ≈ slope·x + c. With ``slope`` given only c is fitted. Returns
    (slope, c); NaN entries of t are ignored."""
    x, t = np.asarray(x, dtype=float), np.asarray(t, dtype=float)
    ok = np.isfinite(t)
    if slope is None:
        slope, c = np.polyfit(x[ok], t[ok], 1)
        return float(slope), float(c)
    return float(slope), float(np.mean(t[ok] - slope * x[ok]))


def fit_group_means(x, samples):
    """Weighted least-squares line through the group means of ``samples`` (G, n) at x (G,),
    weights 1/s.e.² of each mean. Returns (slope, standard error of the slope, intercept)."""
    x = np.asarray(x, dtype=float)
    samples = np.asarray(samples, dtype=float)
    n = np.isfinite(samples).sum(axis=1)
    mean = np.nanmean(samples, axis=1)
    sem = np.nanstd(samples, axis=1, ddof=1) / np.sqrt(n)
    w = 1.0 / sem**2
    xw = (w * x).sum() / w.sum()
    sxx = (w * (x - xw) ** 2).sum()
    slope = (w * (x - xw) * mean).sum() / sxx
    intercept = (w * mean).sum() / w.sum() - slope * xw
    return float(slope), float(np.sqrt(1.0 / sxx)), float(intercept)


# -- escape from a random initialisation at finite N ------------------------------------------

def size_scan_ode(cfg: Config, Ns, seeds, alphas):
    """The ODE started from the random initial overlaps of each (N, seed) — the only trace of
    N in the ODE is its initial condition. Returns (specialization times (len(Ns),
    len(seeds)), the trajectory of the first seed at the largest N as
    :class:`~metarep.trajectory.Trajectory`)."""
    ops = [initial_order_parameters(cfg.replace(N=int(n), seed=int(s)))
           for n in Ns for s in seeds]
    Q, R, a, eg, extra = integrate_batch(cfg, [o.Q for o in ops], [o.R for o in ops],
                                         [o.a for o in ops], alphas, T=ops[0].T)
    t = crossing_time(alphas, extra["specialization"], 0.5)
    i = (len(Ns) - 1) * len(seeds)
    one = Trajectory(np.asarray(alphas, dtype=float), Q[i], R[i], a[i], eg[i],
                     {k: v[i] for k, v in extra.items()}, config=cfg.replace(N=int(Ns[-1])),
                     T=ops[0].T)
    return t.reshape(len(Ns), len(seeds)), one


def size_scan_sim(cfg: Config, Ns, seeds, alpha_max: float, record_every: float = 1.0):
    """Specialization times (len(Ns), len(seeds)) of simulations at each N (seeds vmapped; one
    compilation per N). The meta-test error is not needed and is estimated with the minimum
    Monte-Carlo effort. NaN where a run has not specialized by ``alpha_max``."""
    from metarep.simulator import simulate

    out = []
    for n in Ns:
        c = cfg.replace(N=int(n), alpha_max=alpha_max, record_every=record_every)
        sim = simulate(c, seeds=[int(s) for s in seeds], progress=False, eg_tasks=2, eg_test=1)
        s = np.asarray(specialization_index(sim.Q, sim.R, sim.T))
        out.append(crossing_time(sim.alpha, s, 0.5))
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
        _, R, _ = state_from_vector(md.vectors[:, md.lead], K, M, np.zeros(K), learn_head)
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
            n = np.isfinite(t).sum(axis=1)
            mean = np.nanmean(t, axis=1)
            sem = np.nanstd(t, axis=1, ddof=1) / np.sqrt(n)
            return mean, sem

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


__all__ = ["state_vector", "state_from_vector", "symmetry_breaking", "plateau_fixed_point",
           "plateau_state", "Modes", "modes", "local_modes", "EscapeScan", "escape_scan", "fit_log_law",
           "fit_group_means",
           "size_scan_ode", "size_scan_sim", "plot_spectrum", "plot_escape",
           "plot_size_scaling"]
