r"""Few-shot meta-training: the meta-loss and the dynamics with P support samples.

Computations and figures of the book chapter *Few-shot meta-training* (``book/few_shot.md``).
The study composes the core; the theory itself lives in :mod:`metarep.support`.

* Theory at a fixed state: :func:`support_errors` evaluates the P-shot meta-test error
  F_P(Q, R, a) (``eq-fs-expansion``; exact for S = 1, ``eq-fs-s1``) of many states for several
  support sizes P, and the population value (P = ∞, ``eq-metaloss``).
* Simulation at a fixed state: :func:`monte_carlo` repeats the Monte-Carlo estimate of
  :func:`metarep.simulator.meta_test_error_mc` (local fields drawn from their exact law: exact
  in law at any N) with independent keys, one sample per repetition, for the statistics
  policy (book section ``sec-statistics``).
* Dynamics: :func:`support_runs` integrates the ODE for each support size over a grid of inner
  rates η_in, one :func:`metarep.sweep.sweep` over (support, η_in) (the runs of each support
  size are one compiled program). :class:`SupportRuns` reads off the specialization times and
  the best inner rate.
* Inner steps: :func:`step_errors` evaluates F_P after each of a grid of test-time inner
  step counts S (one compiled program per P for every S).
* Transfer: :func:`support_errors` of the final states of runs meta-trained with one P,
  tested with another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from metarep import analysis, support, sweep
from metarep.plotting import style, unit_colors
from metarep.simulator import meta_test_error_mc
from metarep.trajectory import Trajectory


def _label(P) -> str:
    return r"$P = \infty$" if P == "inf" else f"$P = {P}$"


def _x(supports) -> np.ndarray:
    """Plot positions of support sizes: "inf" at 3 × the largest finite P."""
    finite = [p for p in supports if p != "inf"]
    top = 3 * max(finite) if finite else 1
    return np.array([top if p == "inf" else p for p in supports], dtype=float)


# -- theory at fixed states -----------------------------------------------------------------

def support_errors(Q, R, a, dist, eta_in: float, steps: int, supports: Sequence,
                   samples: int = support.SAMPLES, seed: int = 0) -> np.ndarray:
    """F_P of n states for every support size P in ``supports``: (n, len(supports)).

    Q (n, K, K), R (n, K, M), a (n, K); ``dist`` the task distribution
    (:func:`metarep.metaloss.task_dist`). A finite P gives
    :func:`metarep.support.meta_test_error` with the draws
    :func:`metarep.support.draws` (P, K, M, ``samples``, ``seed``) (``eq-fs-expansion``; for
    ``steps`` ≤ 1 exact, ``eq-fs-s1``, and the draws are not used); ``"inf"`` the population
    meta-test error :func:`metarep.metaloss.meta_test_error` (``eq-metaloss``). One compiled
    program per P for a single state, called for each state (calls with other states, rates
    or task distributions reuse it).
    """
    eta, steps = jnp.float64(eta_in), int(steps)
    return _per_support(lambda q, r, a_, dist_, dr: _error(q, r, a_, dist_, eta, steps, dr),
                        Q, R, a, dist, supports, samples, seed)


def step_errors(Q, R, a, dist, eta_in: float, steps: Sequence[int], supports: Sequence,
                samples: int = support.SAMPLES, seed: int = 0) -> np.ndarray:
    """F_P of n states after each number of test-time inner steps S in ``steps`` for every
    support size P in ``supports``: (n, len(supports), len(steps)).

    As :func:`support_errors`, but one compiled program per P serves every S (S traced:
    :func:`metarep.metaloss.inner_loop`), and the remainder of ``eq-fs-expansion`` is averaged
    over the draws for every S (zero to rounding for S ≤ 1).
    """
    eta, S = jnp.float64(eta_in), jnp.asarray(steps, dtype=jnp.int32)
    return _per_support(lambda q, r, a_, dist_, dr: _errors_of_steps(q, r, a_, dist_, eta, S, dr),
                        Q, R, a, dist, supports, samples, seed)


def _per_support(error, Q, R, a, dist, supports, samples, seed) -> np.ndarray:
    """error(Q_i, R_i, a_i, dist, draws) of every state i and support size P (draws None for
    "inf"), stacked (n, len(supports), ...)."""
    Q, R, a = (np.asarray(x, dtype=np.float64) for x in (Q, R, a))
    K, M = Q.shape[-1], R.shape[-1]
    out = []
    for P in supports:
        dr = None if P == "inf" else support.draws(int(P), K, M, samples, seed)
        out.append([np.asarray(error(Q[i], R[i], a[i], dist, dr)) for i in range(len(Q))])
    return np.asarray(out, dtype=float).swapaxes(0, 1)


_error = jax.jit(support.meta_test_error, static_argnames="steps")
_errors_of_steps = jax.jit(jax.vmap(support.meta_test_error,
                                    in_axes=(None, None, None, None, None, 0, None)))


# -- simulation at a fixed state ------------------------------------------------------------

def monte_carlo(cfg, W, B, a, supports: Sequence, key, repeats: int,
                n_tasks: int) -> np.ndarray:
    """Independent Monte-Carlo estimates of the meta-test error of one microscopic state.

    W (K, N), B (M, N), a (K,); for every P in ``supports`` (an int or "inf") ``repeats``
    estimates of :func:`metarep.simulator.meta_test_error_mc` of ``cfg.replace(support=P)``
    (``method="fields"``: exact in law at any N), each over ``n_tasks`` fresh tasks with the
    key folded with (P's index, the repetition). Returns (repeats, len(supports)); their mean
    over repetitions is unbiased for F_P at the state's overlaps.
    """
    out = np.zeros((int(repeats), len(supports)))
    for j, P in enumerate(supports):
        c = cfg.replace(support=P)
        kj = jax.random.fold_in(key, j)
        for i in range(int(repeats)):
            out[i, j] = meta_test_error_mc(c, W, B, a, jax.random.fold_in(kj, i),
                                           n_tasks=n_tasks, method="fields")[0]
    return out


# -- dynamics -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SupportRuns:
    """ODE runs for p support sizes and e inner rates.

    supports (p,) (ints, or "inf"); eta_in (e,); alpha (n,) record times; eg (p, e, n) the
    meta-test error F_P along each run (``eq-fs-expansion``); specialization (p, e, n) the
    specialization index; Q (p, e, n, K, K), R (p, e, n, K, M), a (p, e, n, K); error (p, e)
    the estimated integration error of each run (relative; NaN where it diverged);
    ``config``: the configuration (its ``support`` and ``eta_in`` replaced per run).
    Diverged runs have NaN records.
    """

    supports: tuple
    eta_in: np.ndarray
    alpha: np.ndarray
    eg: np.ndarray
    specialization: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    error: np.ndarray
    config: object

    def index(self, eta_in: float) -> int:
        """Position of the inner rate ``eta_in`` in the grid (ValueError if absent)."""
        hits = np.flatnonzero(np.isclose(self.eta_in, eta_in))
        if not hits.size:
            raise ValueError(f"eta_in = {eta_in} is not in the grid {self.eta_in.tolist()}")
        return int(hits[0])

    def trajectory(self, i: int, j: int) -> Trajectory:
        """Run (support i, rate j) as a :class:`~metarep.trajectory.Trajectory`."""
        return Trajectory(self.alpha, self.Q[i, j], self.R[i, j], self.a[i, j], self.eg[i, j],
                          observables={"specialization": self.specialization[i, j]},
                          config=self.config.replace(support=self.supports[i],
                                                     eta_in=float(self.eta_in[j])))

    def specialization_times(self) -> np.ndarray:
        """α_s (p, e): :func:`metarep.analysis.specialization_time` of every run."""
        return analysis.specialization_time(self.alpha, self.specialization)

    def final_errors(self) -> np.ndarray:
        """F_P at the last record (p, e) (NaN for diverged runs)."""
        return self.eg[..., -1]

    def best_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """(η_in* (p,), its final error (p,)): the grid rate of lowest final error per P."""
        final = np.where(np.isfinite(self.final_errors()), self.final_errors(), np.inf)
        j = np.argmin(final, axis=1)
        return self.eta_in[j], final[np.arange(len(j)), j]


def support_runs(cfg, supports: Sequence, eta_ins: Sequence[float]) -> SupportRuns:
    """Integrate the ODE of ``cfg`` for every support size in ``supports`` and inner rate in
    ``eta_ins``: one :func:`metarep.sweep.sweep` over (support, η_in) (divergences masked, an
    inaccurate integration warns). Returns a :class:`SupportRuns`."""
    eta_ins = np.asarray(eta_ins, dtype=float)
    res = sweep.sweep(cfg, {"support": [np.inf if P == "inf" else P for P in supports],
                            "eta_in": eta_ins})
    return SupportRuns(tuple(supports), eta_ins, res.alpha, res.eg,
                       res.observables["specialization"], res.Q, res.R, res.a, res.error, cfg)


def transfer_errors(runs: SupportRuns, j: int, dist, test_supports: Sequence) -> np.ndarray:
    """Meta-test errors (p_train, p_test) of the final states of the runs of rate index j
    (meta-trained with each P of ``runs.supports``), tested with each P of ``test_supports``
    at the same inner rate and steps (:func:`support_errors`)."""
    return support_errors(runs.Q[:, j, -1], runs.R[:, j, -1], runs.a[:, j, -1], dist,
                          float(runs.eta_in[j]), runs.config.inner_steps, test_supports)


# -- figures --------------------------------------------------------------------------------

def plot_verification(supports, theory, mc_mean, mc_sem, limit: float):
    """F_P at a fixed state against the support size P: theory (bars, (p,)) and Monte Carlo
    (markers ± 1 s.e., (p,)) at the finite ``supports`` (p,); ``limit``: the P = ∞ value
    (dashed)."""
    P = np.asarray(supports, dtype=float)
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 3.2))
        ax.plot(P, theory, "_", color="C0", ms=18, mew=1.5, label="theory, $F_P$")
        ax.errorbar(P, mc_mean, yerr=mc_sem, fmt="o", color="C1", mfc="white", mew=1.0,
                    elinewidth=0.8, label="Monte Carlo")
        ax.axhline(limit, color="0.4", ls="--", lw=1.0, label=r"$P = \infty$")
        ax.set_xscale("log")
        ax.set_xticks(P, [f"{p:g}" for p in P])
        ax.minorticks_off()
        ax.set_xlabel("support size $P$")
        ax.set_ylabel("meta-test error")
        ax.legend()
    return fig


def plot_trajectories(alpha, eg: dict, spec: dict, level: float = analysis.SPEC_LEVEL):
    """Meta-training with several support sizes: meta-test error (left, log scale) and
    specialization index (right) against α. ``eg``, ``spec``: label → (n,) arrays;
    ``level``: the specialization level (dotted)."""
    colors = dict(zip(eg, unit_colors(len(eg))))
    with style():
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.0, 3.2))
        for name in eg:
            ax1.plot(alpha, eg[name], color=colors[name], label=name)
            ax2.plot(alpha, spec[name], color=colors[name], label=name)
        ax2.axhline(level, color="0.5", ls=":", lw=1.0)
        ax1.set_yscale("log")
        ax1.set_xlabel(r"training time $\alpha$ (tasks / $N$)")
        ax1.set_ylabel("meta-test error $F_P$")
        ax2.set_xlabel(r"training time $\alpha$ (tasks / $N$)")
        ax2.set_ylabel("specialization index")
        ax1.legend()
    return fig


def plot_rates(eta_in, final: dict, best: dict):
    """Final meta-test error against the inner rate η_in, one line per support size.
    ``final``: label → (e,) errors (NaN: diverged); ``best``: label → (η_in*, error) (star)."""
    return _plot_best(eta_in, final, best, r"inner rate $\eta_\mathrm{in}$ (training and test)",
                      r"meta-test error at $\alpha_\mathrm{max}$")


def plot_steps(steps, errors: dict, best: dict):
    """Meta-test error against the number S of test-time inner steps, one line per support
    size. ``errors``: label → (s,) errors; ``best``: label → (S*, error) (star)."""
    return _plot_best(steps, errors, best, r"test-time inner steps $S$",
                      r"meta-test error $F_P$")


def _plot_best(x, curves: dict, best: dict, xlabel: str, ylabel: str):
    """Lines of ``curves`` (label → values at x) on a log scale, each with a star at its
    ``best`` (label → (x, value))."""
    colors = dict(zip(curves, unit_colors(len(curves))))
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 3.2))
        for name, err in curves.items():
            ax.plot(x, err, "o-", color=colors[name], mfc="white", ms=4, lw=1.0, label=name)
            ax.plot(*best[name], "*", color=colors[name], ms=11)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend()
    return fig


def plot_transfer(train_supports, test_supports, errors):
    """Meta-train with one support size, test with another: errors (p_train, p_test) against
    the test support size, one line per training support size; "inf" drawn at 3 × the
    largest finite P; the matched pairs (train = test) circled."""
    x = _x(test_supports)
    colors = unit_colors(len(train_supports))
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 3.2))
        for i, P in enumerate(train_supports):
            ax.plot(x, errors[i], "o-", color=colors[i], mfc="white", ms=4, lw=1.0,
                    label="trained with " + _label(P))
            if P in test_supports:
                k = list(test_supports).index(P)
                ax.plot(x[k], errors[i][k], "o", color=colors[i], ms=9, mfc="none", mew=1.2)
        ax.set_xscale("log")
        ax.set_xticks(x, [r"$\infty$" if p == "inf" else str(p) for p in test_supports])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_xlabel("test support size $P$")
        ax.set_ylabel("meta-test error")
        ax.legend()
    return fig


__all__ = ["support_errors", "step_errors", "monte_carlo", "SupportRuns", "support_runs",
           "transfer_errors", "plot_verification", "plot_trajectories", "plot_rates",
           "plot_steps", "plot_transfer"]
