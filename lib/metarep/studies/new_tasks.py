r"""Generalisation to new tasks: the meta-trained body adapted to fresh tasks.

Computations and figures of the book chapter *Generalisation to new tasks*
(``book/new_tasks.md``).

* Theory: the error on a fresh task after s test-time steps of rate η_in is the meta-loss
  with s in place of S (``eq-metaloss``; :func:`metarep.metaloss.meta_test_error`), evaluated
  at any state (Q, R, a) — the end of meta-training, of multi-task training (η_in = 0), or
  the initial random body. :func:`adaptation_curves` evaluates it for many s and states.
* Simulation: :func:`train_microscopic` meta-trains the microscopic network with the
  training loop of :func:`metarep.simulator.simulate` (:func:`metarep.simulator.advance`,
  same seed, same steps) and returns the final weights (W, a, B) — ``simulate`` records only
  order parameters. :func:`few_shot` then measures the error after
  adaptation on P support samples by Monte Carlo
  (:func:`metarep.simulator.meta_test_error_mc` with ``support = P``). Finite P is
  simulated only here; the finite-P theory is the subject of the chapter
  :ref:`chap-few-shot` (:mod:`metarep.studies.few_shot`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Sequence

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from metarep import metaloss
from metarep.analysis import seed_stats
from metarep.initial import initial_weights, overlaps
from metarep.plotting import style, unit_colors
from metarep.simulator import advance, meta_test_error_mc, run_keys


# -- theory ---------------------------------------------------------------------------------

def adaptation_curves(Q, R, a, dist, eta_in: float, steps: Sequence[int]) -> np.ndarray:
    """Errors after s adaptation steps, for every s in ``steps`` and every state.

    Q (n, K, K), R (n, K, M), a (n, K): n states; ``dist``: the task distribution
    (:func:`metarep.metaloss.task_dist`). Returns (n, len(steps)):
    :func:`metarep.metaloss.meta_test_error` of each state after s steps of rate ``eta_in``
    (one compiled program per tuple of steps).
    """
    Q, R, a = (jnp.asarray(x, dtype=jnp.float64) for x in (Q, R, a))
    return np.asarray(_curves(Q, R, a, dist, jnp.float64(eta_in), tuple(int(s) for s in steps)))


@partial(jax.jit, static_argnames="steps")
def _curves(Q, R, a, dist, eta_in, steps):
    def one(q, r, h):
        return jnp.stack([metaloss.meta_test_error(q, r, h, dist, eta_in, s) for s in steps])
    return jax.vmap(one)(Q, R, a)


def oracle_errors(Q, R, dist) -> np.ndarray:
    """Oracle error (best head per task) of each of n states, Q (n, K, K), R (n, K, M) → (n,)."""
    Q, R = (jnp.asarray(x, dtype=jnp.float64) for x in (Q, R))
    return np.asarray(jax.vmap(lambda q, r: metaloss.oracle_error(q, r, dist))(Q, R))


# -- simulation -----------------------------------------------------------------------------

@dataclass(frozen=True)
class MicroState:
    """Microscopic networks of several seeds: W (s, K, N), a (s, K), B (s, M, N).

    ``alpha``: the training time they were taken at; ``seeds`` (s,); ``config``: the
    configuration they were trained with.
    """

    W: np.ndarray
    a: np.ndarray
    B: np.ndarray
    seeds: np.ndarray
    alpha: float
    config: object

    def order_parameters(self):
        """(Q (s, K, K), R (s, K, M), T (s, M, M)) of every seed."""
        QRT = [overlaps(w, b) for w, b in zip(self.W, self.B)]
        return tuple(np.stack(x) for x in zip(*QRT))


def initial_networks(cfg, seeds: Sequence[int]) -> MicroState:
    """The initial networks of ``seeds`` (:func:`metarep.initial.initial_weights`), α = 0."""
    init = [initial_weights(cfg.replace(seed=int(s))) for s in seeds]
    B, W, a = (np.stack(x) for x in zip(*init))
    return MicroState(W, a, B, np.asarray(seeds), 0.0, cfg)


def train_microscopic(cfg, seeds: Sequence[int]) -> MicroState:
    """Meta-train the microscopic network of each seed for ``cfg.n_steps`` tasks (α_max).

    Starts from :func:`initial_networks` and runs the training loop of
    :func:`metarep.simulator.simulate` (:func:`metarep.simulator.advance`: same task stream,
    same steps, vmapped over seeds). Returns the final :class:`MicroState`; raises
    :class:`~metarep.errors.DivergenceError` if the run diverges.
    """
    start = initial_networks(cfg, seeds)
    keys = jnp.stack([run_keys(int(s))[0] for s in seeds])
    W, a = advance(cfg, start.W, start.a, start.B, keys, 0, cfg.n_steps)
    return MicroState(np.asarray(W, dtype=float), np.asarray(a, dtype=float), start.B,
                      np.asarray(seeds), cfg.n_steps / cfg.N, cfg)


@dataclass(frozen=True)
class FewShot:
    """Monte-Carlo errors after adaptation on P support samples, per support size.

    supports: the sizes (ints, or "inf" for the population loss); mean (n,): mean over seeds
    of each seed's estimate; sem (n,): its standard error over the seeds
    (:func:`metarep.analysis.seed_stats`: the spread of the networks and of the Monte Carlo
    together), or for a single seed the Monte-Carlo standard error; per_seed (s, n) and
    per_seed_sem (s, n): each seed's estimate and its Monte-Carlo standard error; steps,
    eta_in: the adaptation.
    """

    supports: tuple
    mean: np.ndarray
    sem: np.ndarray
    per_seed: np.ndarray
    per_seed_sem: np.ndarray
    steps: int
    eta_in: float

    def table(self) -> dict:
        """One row per support size: ``P`` (inf: population loss), ``mean``, ``sem``, then
        each seed's estimate and standard error; columns for
        :func:`metarep.downloads.write_csv`."""
        cols = {"P": [float("inf") if p == "inf" else p for p in self.supports],
                "mean": self.mean, "sem": self.sem}
        for i, (m, s) in enumerate(zip(self.per_seed, self.per_seed_sem)):
            cols[f"seed{i}"], cols[f"seed{i}_sem"] = m, s
        return cols


def few_shot(cfg, state: MicroState, supports: Sequence, key, *, steps: int | None = None,
             eta_in: float | None = None, n_tasks: int = 2000) -> FewShot:
    """Error on fresh tasks after ``steps`` adaptation steps on P support samples (simulation).

    For every support size P in ``supports`` (an int or "inf") and every seed of ``state``:
    :func:`metarep.simulator.meta_test_error_mc` of the configuration ``cfg`` with
    ``support = P``, ``inner_steps = steps`` and ``eta_in`` (defaults: those of ``cfg``),
    over ``n_tasks`` fresh tasks (key folded with the seed index). Each distinct P compiles
    once; the states are arguments.
    """
    steps = cfg.inner_steps if steps is None else int(steps)
    eta_in = cfg.eta_in if eta_in is None else float(eta_in)
    est = np.zeros((len(state.seeds), len(supports), 2))
    for j, P in enumerate(supports):
        c = cfg.replace(support=P, inner_steps=steps, eta_in=eta_in)
        for i in range(len(state.seeds)):
            est[i, j] = meta_test_error_mc(c, state.W[i], state.B[i], state.a[i],
                                           jax.random.fold_in(key, i), n_tasks=n_tasks)
    sem = seed_stats(est[..., 0]).sem if len(state.seeds) > 1 else est[0, :, 1]
    return FewShot(tuple(supports), est[..., 0].mean(axis=0), sem, est[..., 0], est[..., 1],
                   steps, eta_in)


# -- figures --------------------------------------------------------------------------------

def plot_adaptation(steps, curves: dict[str, np.ndarray], oracles: dict[str, float],
                    sim: dict[str, tuple] | None = None):
    """Error on fresh tasks against the number of test-time adaptation steps s.

    ``curves``: name → errors (len(steps),) of one representation (theory, lines);
    ``oracles``: name → its oracle error (dotted); ``sim``: name → (s, mean, sem) of
    simulation estimates (markers ± 1 s.e.), each a number or an array (several s).
    """
    colors = dict(zip(curves, unit_colors(len(curves))))
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 3.2))
        for name, err in curves.items():
            ax.plot(steps, err, color=colors[name], label=name)
            ax.axhline(oracles[name], color=colors[name], ls=":", lw=1.0)
        for name, (s, mean, sem) in (sim or {}).items():
            ax.errorbar(np.atleast_1d(s), np.atleast_1d(mean), yerr=np.atleast_1d(sem),
                        fmt="o", color=colors[name], mfc="white", mew=1.0, elinewidth=0.8,
                        zorder=3)
        ax.plot([], [], color="0.4", ls=":", lw=1.0, label="oracle head")
        if sim:
            ax.errorbar([], [], yerr=[], fmt="o", color="0.4", mfc="white",
                        label="simulation")
        ax.set_yscale("log")
        ax.set_xlabel("test-time adaptation steps $s$")
        ax.set_ylabel("error on a new task")
        ax.legend()
    return fig


def plot_few_shot(results: dict[str, FewShot], theory: dict[str, float] | None = None):
    """Error after adaptation against the support size P (simulation), per representation.

    ``results``: name → :class:`FewShot` (markers ± 1 s.e., joined by thin lines); the entry
    ``"inf"`` of the supports is drawn at the right end, at 3 × the largest finite P.
    ``theory``: name → the population (P = ∞) error of the theory (dashed).
    """
    colors = dict(zip(results, unit_colors(len(results))))
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 3.2))
        ticks = None
        for name, res in results.items():
            finite = [p for p in res.supports if p != "inf"]
            pinf = 3 * max(finite)
            x = np.array([pinf if p == "inf" else p for p in res.supports], dtype=float)
            ticks = x
            ax.errorbar(x, res.mean, yerr=res.sem, fmt="o-", color=colors[name], mfc="white",
                        mew=1.0, elinewidth=0.8, lw=0.8, label=name)
            if theory is not None and name in theory:
                ax.axhline(theory[name], color=colors[name], ls="--", lw=1.0)
        if theory:
            ax.plot([], [], color="0.4", ls="--", lw=1.0, label=r"theory, $P = \infty$")
        ax.set_xscale("log")
        ax.set_xticks(ticks)
        ax.set_xticklabels([r"$\infty$" if p == "inf" else str(p)
                            for p in next(iter(results.values())).supports])
        ax.minorticks_off()
        ax.set_yscale("log")
        res = next(iter(results.values()))
        ax.set_xlabel("support size $P$ (samples of the new task)")
        ax.set_ylabel(f"error after {res.steps} step(s), " + rf"$\eta_\mathrm{{in}} = {res.eta_in:g}$")
        ax.legend()
    return fig


__all__ = ["adaptation_curves", "oracle_errors", "MicroState", "initial_networks",
           "train_microscopic", "FewShot", "few_shot", "plot_adaptation", "plot_few_shot"]
