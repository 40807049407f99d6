r"""Integration of the order-parameter ODEs (right-hand side: :mod:`metarep.drift`).

One entry point integrates any batch of runs — several initial states (the seeds of a
simulation), several hyper-parameter points (a sweep), or both — in one compiled, vmapped
program: :func:`integrate_batch`. :func:`integrate` (one run) and :func:`integrate_seeds`
(the ODE from the initial state of each simulation seed) are thin wrappers around it, and
:func:`metarep.sweep.sweep` builds outer-product grids on it. All of them share

* the integrator: classical fixed-step RK4 inside ``lax.scan`` under ``jit``. Between
  consecutive requested times α_i < α_{i+1} the interval is split into
  n_i = ⌈(α_{i+1} − α_i)/dt⌉ equal steps, so every record falls exactly on the grid and no
  step exceeds ``cfg.dt`` (any, e.g. log-spaced, record times work);
* one divergence policy (:mod:`metarep.divergence`): a run whose state or error stops being
  finite, or whose error exceeds the zero predictor's by :data:`~metarep.divergence.EG_BLOWUP`,
  either raises :class:`~metarep.errors.DivergenceError` naming the run, the α interval and
  the likely cause measured at the last finite RK4 state, or (``on_divergence="mask"``) has
  its records from the first diverged one on set to NaN;
* one accuracy check: the runs are integrated a second time with the step 2·dt (the same
  compiled program: dt is an argument) and Richardson's estimate |y_dt − y_2dt|/15 (for an
  even number of steps per record interval) of the error of the dt run — which includes the amplification of errors by unstable directions,
  e.g. at the exit from a plateau — is compared with :data:`ACCURACY_TOLERANCE` (relative to
  the state's scale); above it the run is refused with :class:`~metarep.errors.AccuracyError`
  naming dt (or a warning, ``accuracy="warn"``). It costs half an integration more.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from metarep import divergence, drift, observables
from metarep.drift import Hyper, State
from metarep.errors import AccuracyError, DivergenceError
from metarep.initial import initial_order_parameters

#: Largest accepted estimate of the global integration error, relative to max(1, max |state|).
ACCURACY_TOLERANCE = 1e-4

_RK4_NODES = np.array([0.0, 0.5, 0.5, 1.0])
_RK4_WEIGHTS = np.array([1.0, 2.0, 2.0, 1.0]) / 6.0


def _rk4(state: State, h, hp: Hyper, steps: int, first_order: bool, t=0.0) -> State:
    """One classical RK4 step from time t; the four stages run in a ``lax.scan`` so that the
    vector field is traced (and compiled) once: k_i = f(t + c_i h, y + c_i h k_{i−1}),
    y ← y + h Σ w_i k_i (the time enters only through the schedules of ``hp``,
    :func:`metarep.drift.at`)."""
    tree = jax.tree_util.tree_map

    def stage(carry, cw):
        acc, k = carry
        c, w = cw
        k = drift.vector_field(tree(lambda y, kk: y + c * h * kk, state, k),
                               drift.at(hp, t + c * h), steps, first_order)
        return (tree(lambda s, kk: s + w * h * kk, acc, k), k), None

    zero = tree(jnp.zeros_like, state)
    (new, _), _ = jax.lax.scan(stage, (state, zero), (_RK4_NODES, _RK4_WEIGHTS))
    return new


def _substeps(lo, hi, dt):
    """(n, h): the number of RK4 steps of the interval [lo, hi] and their size."""
    n = jnp.maximum(jnp.ceil((hi - lo) / dt - 1e-9), 1.0)
    return n, (hi - lo) / n


def solve(state0: State, hp: Hyper, grid, dt, steps: int, first_order: bool) -> State:
    """States at the times ``grid`` (n,), starting from ``state0`` at ``grid[0]``.

    Each interval [grid_i, grid_{i+1}] takes ⌈Δ/dt⌉ equal RK4 steps. Pure and jittable
    (``steps``, ``first_order`` static); returns a State with a leading axis of length n.
    Rates of ``hp`` may be :class:`~metarep.drift.Schedule` s of α (absolute time: the
    times of ``grid``). Differentiable in forward mode (``jax.jvp``, ``jax.jacfwd``) with
    respect to the state, the hyper-parameters and the schedules' values; the number of
    steps of an interval depends on the grid, so reverse mode does not apply.
    """
    def interval(state, ends):
        lo, hi = ends
        n, h = _substeps(lo, hi, dt)
        state = jax.lax.fori_loop(0, n.astype(jnp.int32),
                                  lambda i, s: _rk4(s, h, hp, steps, first_order, lo + i * h),
                                  state)
        return state, state

    _, states = jax.lax.scan(interval, state0, (grid[:-1], grid[1:]))
    return jax.tree_util.tree_map(lambda x0, xs: jnp.concatenate([x0[None], xs]), state0, states)


def _observe(states: State, hp: Hyper, steps: int, grid):
    """(eg (n,), extra columns) of recorded states at the times ``grid`` (n,)
    (``metarep.observables.record_observables``, adapting with the inner rate at that
    time)."""
    return jax.vmap(lambda Q, R, a, t: observables.record_observables(
        Q, R, a, hp.dist, drift.at(hp, t).eta_in, steps, hp.support))(*states, grid)


@partial(jax.jit, static_argnames=("steps", "first_order"))
def solve_and_observe(state0: State, hp: Hyper, grid, dt, steps: int, first_order: bool):
    """:func:`solve` plus the recorded observables: (states, eg (n,), extra columns dict)."""
    states = solve(state0, hp, grid, dt, steps, first_order)
    return (states, *_observe(states, hp, steps, grid))


@partial(jax.jit, static_argnames=("steps", "first_order", "batched"))
def _run_chunk(s0: State, hp: Hyper, grid, dt, steps, first_order, batched):
    """States, eg, extra columns and the diverged mask (cumulative: True from the first
    diverged record on) of the runs of ``s0``/``hp`` (vmapped over their leading axis when
    ``batched``)."""
    def one(s, h):
        states, eg, extra = solve_and_observe(s, h, grid, dt, steps, first_order)
        return states, eg, extra, jnp.cumsum(divergence.diverged(states, eg, h.dist)) > 0

    return jax.vmap(one)(s0, hp) if batched else one(s0, hp)


def _integration_errors(fine: State, coarse: State, grid, dt: float) -> np.ndarray:
    """Estimated integration error of each run (B,) from the same runs integrated with steps
    dt (``fine``) and 2·dt (``coarse``), relative to max(1, max |state|).

    Interval i takes n_i = ⌈Δ_i/dt⌉ fine and m_i = ⌈Δ_i/(2dt)⌉ coarse steps; RK4's error grows
    like the fourth power of the step, so the fine run's error is about
    |fine − coarse|/(r⁴ − 1) with r = n_i/m_i (Richardson; r = 2, i.e. 1/15, when Δ_i/dt is
    even), taking the smallest ratio over the intervals (the largest estimate). NaN where no
    interval has a ratio above 1 (records closer than dt); a diverged coarse run gives ∞."""
    B = fine.Q.shape[0]
    widths = np.diff(np.asarray(grid, dtype=float))
    widths = widths[widths > 0]
    n = np.maximum(np.ceil(widths / dt - 1e-9), 1.0)
    m = np.maximum(np.ceil(widths / (2 * dt) - 1e-9), 1.0)
    ratio = (n / m)[n > m]
    if ratio.size == 0:
        return np.full(B, np.nan)
    flat = lambda st: np.concatenate([np.asarray(x).reshape(B, -1) for x in st], axis=1)  # noqa: E731
    f, c = flat(fine), flat(coarse)
    with np.errstate(invalid="ignore"):
        err = (np.max(np.abs(f - c), axis=1) / (ratio.min() ** 4 - 1.0)
               / np.maximum(1.0, np.max(np.abs(f), axis=1)))
    return np.where(np.isfinite(err), err, np.inf)


def time_grid(alphas) -> tuple[np.ndarray, bool]:
    """(grid, prepended): the record times as an integration grid starting at α = 0 (0 is
    prepended when ``alphas`` starts later; drop that record afterwards)."""
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)):
        raise ValueError("alphas must be a non-empty 1-d array of finite times")
    if alphas[0] < 0 or np.any(np.diff(alphas) < 0):
        raise ValueError("alphas must be non-negative and non-decreasing")
    if alphas[0] == 0:
        return alphas, False
    return np.concatenate([[0.0], alphas]), True


def padded_grid(grid) -> np.ndarray:
    """The time grid padded with copies of its last time to the next power of two (≥ 16).

    The compiled integration depends on the number of records; padding lets runs with
    different numbers of records share one compilation. A zero-length interval costs one RK4
    step of size 0, which leaves the state unchanged; drop the padded records afterwards.
    """
    grid = np.asarray(grid, dtype=float)
    size = max(16, 1 << int(np.ceil(np.log2(len(grid)))))
    return np.concatenate([grid, np.full(size - len(grid), grid[-1])])


def initial_state(cfg) -> tuple[State, np.ndarray]:
    """(State, T) of a configuration: explicit Q0/R0/a0, or the overlaps of the random
    microscopic initialisation with cfg.seed and cfg.N — the simulator's very start
    (:func:`metarep.initial.initial_order_parameters`, drawn without N-dimensional arrays)."""
    op = initial_order_parameters(cfg)
    return State(np.asarray(op.Q), np.asarray(op.R), np.asarray(op.a)), np.asarray(op.T)


class Batch(NamedTuple):
    """ODE runs of one configuration structure (same K, M, S, meta-gradient).

    alpha (n,); Q (B, n, K, K), R (B, n, K, M), a (B, n, K), eg (B, n), observables
    name -> (B, n) (:func:`metarep.observables.record_observables`), diverged (B, n) bool
    (True from a run's first diverged record on; those records are NaN with
    ``on_divergence="mask"``), error (B,) the estimated integration error (relative), and
    T (B, M, M) the teacher overlaps of each run.
    """

    alpha: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    eg: np.ndarray
    observables: dict
    diverged: np.ndarray
    error: np.ndarray
    T: np.ndarray


def _leading(tree) -> int | None:
    leaves = jax.tree_util.tree_leaves(tree)
    return None if not leaves else int(np.shape(leaves[0])[0])


def _take(tree, idx):
    """Entries ``idx`` of the leading axis of every leaf, as NumPy arrays (host side: no
    compilation)."""
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[idx], tree)


def _last_finite(cfg, state: State, hp: Hyper, lo: float, hi: float) -> State:
    """The last finite, not yet blown-up RK4 state between the records at ``lo`` (finite)
    and ``hi`` (diverged): the interval is re-integrated with a record at every step."""
    n = int(np.ceil((hi - lo) / cfg.dt - 1e-9))
    sub = np.linspace(lo, hi, max(n, 1) + 1)
    states, eg, _ = solve_and_observe(state, hp, jnp.asarray(padded_grid(sub)), cfg.dt,
                                      cfg.inner_steps, cfg.first_order)
    bad = np.asarray(divergence.diverged(states, eg, hp.dist))[:len(sub)]
    j = int(np.argmax(bad)) if bad.any() else len(sub)
    return State(*(np.asarray(x[max(j - 1, 0)]) for x in states))


def _divergence_error(cfg, alpha, b: int, i: int, states0: State, hps: Hyper, Q, R, a,
                      label: str) -> DivergenceError:
    """The error for run b of a batch, first diverged at record i."""
    hp = _take(hps, b)
    if i == 0:
        last, where = State(Q[b, 0], R[b, 0], a[b, 0]), f"at α = {alpha[0]:.6g}"
    else:
        start = State(Q[b, i - 1], R[b, i - 1], a[b, i - 1])
        last = _last_finite(cfg, start, hp, float(alpha[i - 1]), float(alpha[i]))
        where = f"between α = {alpha[i - 1]:.6g} and α = {alpha[i]:.6g}"
    cause = divergence.explain(cfg, last, T=np.asarray(hp.dist.T), dt=cfg.dt)
    run = f" ({label})" if label else ""
    return DivergenceError(f"ODE integration{run} diverged {where}: {cause}")


def integrate_batch(cfg, alphas=None, *, states: State | None = None,
                    hypers: Hyper | None = None, T=None, on_divergence: str = "raise",
                    accuracy: str = "raise", labels: Sequence[str] | None = None,
                    chunk: int = 1024, workers: int | None = None, devices=None) -> Batch:
    """Integrate B runs of the ODE of ``cfg`` in one compiled, vmapped program.

    states: initial states with a leading axis B (State of arrays (B, K, K), (B, K, M),
    (B, K)); default: the configuration's own initial state (:func:`initial_state`) for every
    run. hypers: :class:`~metarep.drift.Hyper` whose leaves have a leading axis B (e.g. from
    :func:`metarep.sweep.sweep`); default ``hyper(cfg, T)`` for every run. T: teacher overlaps
    (M, M) of the default hypers (default: those of the configuration's initial state).
    alphas: record times (default ``cfg.record_alphas``; α = 0 is integrated from even when
    not recorded). Structure (K, M, S, first order) and dt come from ``cfg``.

    on_divergence: ``"raise"`` (:class:`~metarep.errors.DivergenceError` naming the run —
    ``labels[b]`` when given —, the α interval and the cause measured at the last finite RK4
    state) or ``"mask"`` (records from the first diverged one on are NaN; see
    ``Batch.diverged``). accuracy: ``"raise"`` (:class:`~metarep.errors.AccuracyError` naming
    dt when a run's estimated error — Richardson, from a second integration with step 2·dt —
    exceeds :data:`ACCURACY_TOLERANCE`), ``"warn"`` or ``"off"``. Runs are vmapped in chunks of at most ``chunk`` (all of the same size: one
    compilation), run concurrently by ``workers`` threads (default: one per available core;
    XLA releases the GIL).

    devices (a sequence of JAX devices): the chunks, of exactly min(``chunk``, B) runs (the
    last one padded by repeating its last run), are spread over these devices, chunk k on
    ``devices[k mod D]``, each running the same one-device program; the numbers therefore do
    not depend on the number of devices (a program sharded over devices rounds some runs
    differently). Accelerators run their chunks at the same time, one thread each; CPU
    devices, which share the host's cores, one after the other (``workers`` is ignored).
    Returns a :class:`Batch`.
    """
    if on_divergence not in ("raise", "mask") or accuracy not in ("raise", "warn", "off"):
        raise ValueError("on_divergence must be 'raise' or 'mask', accuracy 'raise', 'warn' "
                         "or 'off'")
    sizes = {s for s in (_leading(states), _leading(hypers)) if s is not None}
    if len(sizes) > 1:
        raise ValueError(f"states and hypers have different batch sizes: {sorted(sizes)}")
    B = sizes.pop() if sizes else 1
    if states is None or hypers is None:
        s0, T0 = initial_state(cfg)
        T = T0 if T is None else T
    if states is None:
        states = jax.tree_util.tree_map(lambda x: np.broadcast_to(x, (B, *np.shape(x))), s0)
    if hypers is None:
        hypers = jax.tree_util.tree_map(lambda x: np.broadcast_to(x, (B, *np.shape(x))),
                                        drift.hyper(cfg, T))
    states = State(*(np.asarray(x, dtype=np.float64) for x in states))
    grid, drop_first = time_grid(cfg.record_alphas if alphas is None else alphas)
    grid_t = jnp.asarray(padded_grid(grid))
    devices = list(devices) if devices else None
    if devices:
        workers = len(devices) if devices[0].platform != "cpu" else 1
        size = min(chunk, B)
    else:
        workers = max(1, min(workers or len(os.sched_getaffinity(0)), B))
        size = min(chunk, -(-B // workers))

    batched = B > 1

    def part(tree, start):
        # every chunk has the same size (the last one repeats its last run): one compilation
        if not batched:
            return _take(tree, 0)
        return _take(tree, np.minimum(np.arange(start, start + size), B - 1))

    def args(start, device):
        a = (part(states, start), part(hypers, start), grid_t)
        return a if device is None else jax.device_put(a, device)

    compiled = [_run_chunk.lower(*args(0, d), cfg.dt, steps=cfg.inner_steps,
                                 first_order=cfg.first_order, batched=batched).compile()
                for d in (devices or [None])]

    def run(start, dt):
        k = (start // size) % len(compiled)
        out = compiled[k](*args(start, devices[k] if devices else None), dt)
        if not batched:
            out = jax.tree_util.tree_map(lambda x: x[None], out)
        return jax.tree_util.tree_map(lambda x: np.asarray(x)[:B - start], out)

    def run_all(dt):
        starts = list(range(0, B, size))
        if len(starts) == 1:
            outs = [run(0, dt)]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                outs = list(pool.map(lambda s: run(s, dt), starts))
        return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *outs)

    (Q, R, a), eg, extra, bad = run_all(cfg.dt)
    n = len(grid)
    Q, R, a, eg, bad = Q[:, :n], R[:, :n], a[:, :n], eg[:, :n], bad[:, :n]
    extra = {k: v[:, :n] for k, v in extra.items()}
    if bad.any():
        if on_divergence == "raise":
            first = np.where(bad.any(axis=1), np.argmax(bad, axis=1), n)
            b = int(np.argmin(first))
            raise _divergence_error(cfg, grid, b, int(first[b]), states, hypers, Q, R, a,
                                    labels[b] if labels is not None else "")
        nan = lambda x: np.where(bad.reshape(bad.shape + (1,) * (x.ndim - 2)), np.nan, x)  # noqa: E731
        Q, R, a, eg = nan(Q), nan(R), nan(a), nan(eg)
        extra = {k: nan(v) for k, v in extra.items()}
    error = np.full(B, np.nan)
    if accuracy != "off":
        coarse = run_all(2 * cfg.dt)[0]
        n = len(grid)
        error = _integration_errors(State(Q, R, a), State(*(x[:, :n] for x in coarse)), grid,
                                    cfg.dt)
        error[bad.any(axis=1)] = np.nan
    worst = np.nanmax(error) if (~np.isnan(error)).any() else 0.0
    if worst > ACCURACY_TOLERANCE:
        b = int(np.nanargmax(np.where(np.isnan(error), -1.0, error)))
        run_name = f" ({labels[b]})" if labels is not None else ""
        if np.isinf(worst):
            msg = (f"the ODE integration{run_name} is not accurate: the same run with step "
                   f"2·dt diverges, so dt = {cfg.dt:g} is at the edge of RK4's stability; "
                   "reduce dt")
        else:
            msg = (f"the ODE integration{run_name} is not accurate: the estimated integration "
                   f"error {worst:.2g} (relative; Richardson, against a run with step 2·dt) "
                   f"exceeds {ACCURACY_TOLERANCE:g}; reduce dt = {cfg.dt:g}")
        if accuracy == "raise":
            raise AccuracyError(msg)
        warnings.warn(msg, stacklevel=2)
    sl = slice(1, None) if drop_first else slice(None)
    Tb = np.broadcast_to(np.asarray(hypers.dist.T), (B, cfg.M, cfg.M)).copy()
    return Batch(grid[sl], Q[:, sl], R[:, sl], a[:, sl], eg[:, sl],
                 {k: v[:, sl] for k, v in extra.items()}, bad[:, sl], error, Tb)


def stack_states(states: Sequence) -> State:
    """A batch State (leading axis B) from a sequence of B states (Q, R, a)."""
    return State(*(np.stack([np.asarray(s[i], dtype=float) for s in states])
                   for i in range(3)))


def stack_hypers(hypers: Sequence[Hyper]) -> Hyper:
    """A batch Hyper (every leaf with a leading axis B) from a sequence of B Hypers."""
    return jax.tree_util.tree_map(lambda *x: np.stack([np.asarray(v) for v in x]), *hypers)


def integrate(cfg, alphas=None, *, state0=None, T=None):
    """Integrate the ODE of ``cfg`` and record the state at ``alphas`` (default
    cfg.record_alphas).

    ``state0`` = (Q, R, a) and ``T`` override the initial state of the configuration (e.g.
    the measured overlaps of a simulation). Returns a :class:`~metarep.trajectory.Trajectory`
    with eg = meta-test error and observables ``eg_noadapt``, ``eg_oracle``,
    ``specialization``. Raises :class:`~metarep.errors.DivergenceError` (naming the α interval
    and the likely cause) or :class:`~metarep.errors.AccuracyError` (naming dt); see
    :func:`integrate_batch`.
    """
    from metarep.trajectory import Trajectory

    states = None if state0 is None else stack_states([state0])
    if states is not None and T is None:
        T = np.eye(cfg.M)
    run = integrate_batch(cfg, alphas, states=states, T=T)
    return Trajectory(run.alpha, run.Q[0], run.R[0], run.a[0], run.eg[0],
                      observables={k: v[0] for k, v in run.observables.items()}, seeds=None,
                      config=cfg, T=run.T[0])


def integrate_seeds(cfg, seeds, alphas=None):
    """The ODE from the initial state of each simulation seed, in one vmapped integration.

    Seed s starts from :func:`metarep.initial.initial_order_parameters` of
    ``cfg.replace(seed=s)`` — the very overlaps the simulator starts from — with that seed's
    teacher overlaps T. Returns a :class:`~metarep.trajectory.Trajectory` with a seed axis
    (theory, one run per seed).
    """
    from metarep.trajectory import Trajectory

    seeds = [int(s) for s in seeds]
    ops = [initial_order_parameters(cfg.replace(seed=s)) for s in seeds]
    run = integrate_batch(cfg, alphas, states=stack_states([(o.Q, o.R, o.a) for o in ops]),
                          hypers=stack_hypers([drift.hyper(cfg, o.T) for o in ops]),
                          labels=[f"seed {s}" for s in seeds])
    return Trajectory(run.alpha, run.Q, run.R, run.a, run.eg, observables=run.observables,
                      seeds=np.array(seeds), config=cfg, T=run.T)


__all__ = ["ACCURACY_TOLERANCE", "solve", "solve_and_observe",
           "time_grid", "padded_grid", "initial_state", "Batch", "integrate_batch",
           "stack_states", "stack_hypers", "integrate", "integrate_seeds"]
