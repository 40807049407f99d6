r"""On-screen checks of the chapter *The meta-loss and the ODEs* (``book/odes.md``).

Two checks of the ingredients of the drift, each a pure computation plus one figure:

* **Derivatives** (:func:`derivative_check`). The drift (``eq-ode-R``, ``eq-ode-Q``,
  ``eq-ode-a``) is built from A = ∂F/∂Q + (∂F/∂Q)ᵀ, G = ∂F/∂R (``eq-AG``) and ∂F/∂a of the
  meta-loss F (``eq-metaloss``), obtained by reverse-mode autodiff. Here they are compared with
  central finite differences of F, entry by entry, at a ladder of steps h, h/2, h/4, …
  A central difference has the truncation error (h²/6) ∂³F + O(h⁴) (and a rounding error
  ≈ ε_mach F/h): if autodiff is right, its deviation from the difference falls by 4 per halving
  of h, and the Richardson combination (4 D(h/2) − D(h))/3 falls by 16 (O(h⁴)); a wrong
  derivative would leave a deviation that does not shrink with h. Both the full meta-gradient
  and the first-order one (a′ held fixed, :func:`metarep.metaloss.first_order_error`) are checked.
* **Task averages** (:func:`task_average_check`). F and the noise term Φ (``eq-noise``) are
  averaged over the readout v ~ N(v̄, σ_v² I) in closed form (the exact quadratic average of
  ``eq-metaloss``; Isserlis' theorem ``eq-isserlis`` for the fourth moments in Φ). Here the same
  quantities are evaluated at fixed readouts v (the closed forms with σ_v = 0 and v̄ = v) and
  averaged over Monte-Carlo draws of v; :func:`metarep.analysis.agreement` tests the averages
  against the closed forms (no allowance: the Monte-Carlo mean is unbiased).

:func:`plot_checks` draws both.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from metarep import metaloss
from metarep.analysis import Agreement, agreement
from metarep.drift import State
from metarep.plotting import style, unit_colors


def check_state(K: int, M: int, seed: int, scale: float = 0.9) -> tuple[State, np.ndarray]:
    """A generic (State, T = I) for the checks: the overlaps of a random body W (K × n, i.i.d.
    N(0, scale²)) with an orthonormal teacher B (M × n, rows of norm √n), n = K + M + 2, so
    that the covariance of the fields is positive definite; the head a is N(0, 1/K)."""
    rng = np.random.default_rng(seed)
    n = K + M + 2
    B = np.sqrt(n) * np.linalg.qr(rng.normal(size=(n, n)))[0][:M]
    W = scale * rng.normal(size=(K, n))
    Q, R = W @ W.T / n, W @ B.T / n
    a = rng.normal(size=K) / np.sqrt(K)
    return State(jnp.asarray(Q), jnp.asarray(R), jnp.asarray(a)), np.eye(M)


# -- derivatives against finite differences ---------------------------------------------------

class DerivativeCheck(NamedTuple):
    """Autodiff derivatives of F against central finite differences.

    names (d,): the derivatives checked; h (n_h,): the steps, halving; deviation (d, n_h):
    max |difference − autodiff| / max |autodiff| over the entries; richardson (d, n_h − 1):
    the same for (4 D(h/2) − D(h))/3 (labelled by the smaller step, h[1:]).
    """

    names: tuple[str, ...]
    h: np.ndarray
    deviation: np.ndarray
    richardson: np.ndarray

    def ratios(self) -> np.ndarray:
        """deviation(h)/deviation(h/2), (d, n_h − 1): 4 for an O(h²) truncation error."""
        return self.deviation[:, :-1] / self.deviation[:, 1:]


def _central(f, x, h):
    """Central differences of the scalar f at x (any shape), every entry: shape of x."""
    flat = x.ravel()
    eye = jnp.eye(flat.size, dtype=x.dtype)

    def one(e):
        return (f((flat + h * e).reshape(x.shape)) - f((flat - h * e).reshape(x.shape))) / (2 * h)

    return jax.vmap(one)(eye).reshape(x.shape)


def derivative_check(cfg, state: State, T=None, h0: float = 1e-2, halvings: int = 4
                     ) -> DerivativeCheck:
    """Compare A, G and ∂F/∂a (full meta-gradient) and A, G with a′ held fixed (first order)
    with central differences of F at steps h0, h0/2, …, h0/2^halvings (see the module doc).
    ``cfg`` supplies the task distribution, η_in and S; ``state`` = (Q, R, a)."""
    dist = metaloss.task_dist(cfg, T)
    eta_in, S = jnp.float64(cfg.eta_in), cfg.inner_steps
    Q, R, a = (jnp.asarray(x, dtype=jnp.float64) for x in state)

    def full(Q, R, a):
        return metaloss.meta_test_error(Q, R, a, dist, eta_in, S)

    def first(Q, R):      # the adapted head built from the fixed (Q, R) of the state
        return metaloss.first_order_error(Q, R, a, state.Q, state.R, dist, eta_in, S)

    dQ, dR, da = jax.jit(jax.grad(full, argnums=(0, 1, 2)))(Q, R, a)
    fQ, fR = jax.jit(jax.grad(first, argnums=(0, 1)))(Q, R)
    auto = {"A": dQ + dQ.T, "G": dR, "dF/da": da,
            "A, first order": fQ + fQ.T, "G, first order": fR}
    sym = lambda d: d + d.T  # noqa: E731 - A from the unsymmetrised ∂F/∂Q

    @jax.jit
    def differences(h):
        return {"A": sym(_central(lambda q: full(q, R, a), Q, h)),
                "G": _central(lambda r: full(Q, r, a), R, h),
                "dF/da": _central(lambda b: full(Q, R, b), a, h),
                "A, first order": sym(_central(lambda q: first(q, R), Q, h)),
                "G, first order": _central(lambda r: first(Q, r), R, h)}

    hs = h0 / 2.0 ** np.arange(halvings + 1)
    fd = [differences(jnp.float64(h)) for h in hs]
    names = tuple(auto)
    dev = np.empty((len(names), len(hs)))
    rich = np.empty((len(names), len(hs) - 1))
    for i, name in enumerate(names):
        ref = np.asarray(auto[name])
        scale = np.max(np.abs(ref))
        d = [np.asarray(f[name]) for f in fd]
        dev[i] = [np.max(np.abs(x - ref)) / scale for x in d]
        rich[i] = [np.max(np.abs((4 * d[j + 1] - d[j]) / 3 - ref)) / scale
                   for j in range(len(hs) - 1)]
    return DerivativeCheck(names, hs, dev, rich)


# -- task averages against Monte Carlo over the readout ---------------------------------------

class TaskAverageCheck(NamedTuple):
    """Closed-form task averages against Monte Carlo over the readout v.

    names (q,): ``F`` and the entries ``Phi_k_l`` (k ≤ l); closed (q,): the closed forms;
    samples (n, q): the same quantities at n independent readouts v ~ N(v̄, σ_v² I);
    test: :func:`metarep.analysis.agreement` of the sample means with the closed forms
    (allowance 0, Holm's correction over the q quantities).
    """

    names: tuple[str, ...]
    closed: np.ndarray
    samples: np.ndarray
    test: Agreement

    @property
    def z(self) -> np.ndarray:
        """(Monte-Carlo mean − closed form)/(its standard error), (q,)."""
        n = self.samples.shape[0]
        sem = self.samples.std(axis=0, ddof=1) / np.sqrt(n)
        return (self.samples.mean(axis=0) - self.closed) / sem


def task_average_check(cfg, state: State, n_tasks: int, seed: int, T=None,
                       false_alarm: float = 1e-3) -> TaskAverageCheck:
    """Monte Carlo over v of F (``eq-metaloss``) and Φ (``eq-noise``) at ``state``: each draw
    evaluates the closed forms with the readout fixed (σ_v = 0, v̄ = v), which leaves the
    average over v as the only step not taken in closed form (see the module doc)."""
    dist = metaloss.task_dist(cfg, T)
    eta_in, S = jnp.float64(cfg.eta_in), cfg.inner_steps
    Q, R, a = (jnp.asarray(x, dtype=jnp.float64) for x in state)
    K = Q.shape[0]
    kk, ll = np.triu_indices(K)

    def values(d):
        F = metaloss.meta_test_error(Q, R, a, d, eta_in, S)
        phi = metaloss.noise_term(Q, R, a, d, eta_in, S)
        return jnp.concatenate([F[None], phi[kk, ll]])

    rng = np.random.default_rng(seed)
    v = np.asarray(dist.v_bar) + float(dist.v_std) * rng.standard_normal((n_tasks, cfg.M))
    at = jax.jit(jax.vmap(lambda vi: values(dist._replace(v_bar=vi, v_std=jnp.float64(0.0)))))
    samples = np.asarray(at(jnp.asarray(v)))
    closed = np.asarray(jax.jit(values)(dist))
    names = ("F", *(f"Phi_{k}_{l}" for k, l in zip(kk, ll)))
    return TaskAverageCheck(names, closed, samples,
                            agreement(samples, closed, 0.0, false_alarm))


def first_rejection(m: int, rate: float, dof: int) -> float:
    """The |t| beyond which Holm's procedure over ``m`` two-sided Student-t tests (``dof``
    degrees of freedom) at family-wise rate ``rate`` rejects anything: its first step tests
    the smallest p-value against rate/m, and nothing is rejected unless that one is."""
    from scipy import stats

    return float(stats.t.isf(rate / (2 * m), dof))


# -- figure ---------------------------------------------------------------------------------

_TEX = {"A": "$A$", "G": "$G$", "dF/da": r"$\partial F/\partial a$",
        "A, first order": "$A$, first order", "G, first order": "$G$, first order",
        "F": "$F$"}


def _tex(name: str) -> str:
    if name.startswith("Phi_"):
        _, k, l = name.split("_")
        return rf"$\Phi_{{{k}{l}}}$"
    return _TEX.get(name, name)


def plot_checks(deriv: DerivativeCheck, avg: TaskAverageCheck, z_band: float | None = None):
    """Two panels: (a) the relative deviation of central differences (filled markers) and of
    their Richardson combination (open markers) from autodiff against the step h, with
    h² and h⁴ guide lines; (b) the z-scores of the Monte-Carlo task averages, with ±``z_band``
    (e.g. the Holm threshold of the test) shaded. Returns the figure."""
    colors = unit_colors(len(deriv.names))
    with style():
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(8.5, 3.4),
                                     gridspec_kw={"width_ratios": [1.4, 1.0]})
        for i, name in enumerate(deriv.names):
            ax.plot(deriv.h, deriv.deviation[i], "o", color=colors[i], label=_tex(name))
            ax.plot(deriv.h[1:], deriv.richardson[i], "o", color=colors[i], mfc="white")
        for power, y, label in ((2, deriv.deviation, r"$\propto h^2$"),
                                (4, deriv.richardson, r"$\propto h^4$")):
            hh = deriv.h if power == 2 else deriv.h[1:]
            ref = np.max(y[:, 0]) * (hh / hh[0]) ** power
            ax.plot(hh, ref, color="0.4", ls="--" if power == 2 else ":", lw=1.0, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("finite-difference step $h$")
        ax.set_ylabel("deviation from autodiff (relative)")
        ax.set_title("(a) derivatives of $F$: central (filled), Richardson (open)")
        ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.2))

        x = np.arange(len(avg.names))
        bx.axhline(0.0, color="k", lw=1.0, label="closed form")
        if z_band is not None:
            bx.axhspan(-z_band, z_band, color="0.9", zorder=0, label=f"±{z_band:.2f}")
        bx.plot(x, avg.z, "o", color="C3", mfc="white", mew=1.0,
                label=f"Monte Carlo over $v$ ({avg.samples.shape[0]} readouts)")
        bx.set_xticks(x, [_tex(n) for n in avg.names])
        bx.set_ylabel("(Monte Carlo − closed form) / s.e.")
        bx.set_title("(b) task averages of $F$ and $\\Phi$")
        lim = max(4.0, 1.2 * float(np.max(np.abs(avg.z))), 1.2 * (z_band or 0.0))
        bx.set_ylim(-lim, lim)
        bx.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return fig


__all__ = ["check_state", "DerivativeCheck", "derivative_check", "TaskAverageCheck",
           "task_average_check", "first_rejection", "plot_checks"]
