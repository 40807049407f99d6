r"""The ODE integrated over a grid of hyper-parameters at once (phase diagrams).

The numeric hyper-parameters are leaves of :class:`metarep.ode.Hyper`, so one compiled
integration (:func:`metarep.ode.solve_and_observe`) is ``vmap``-ped over every point of the
grid; the structure (K, M, S = ``inner_steps``, ``first_order``) and the step ``dt`` are
shared. Example::

    res = sweep(cfg, {"eta": np.linspace(0.1, 3, 32), "eta_in": np.linspace(0, 2, 32)})
    res.eg[i, j, -1]        # final meta-test error at eta[i], eta_in[j]

Diverged runs do not raise: their records are flagged in ``diverged`` (same criterion as
:func:`metarep.ode.diverged`: non-finite, or eg > EG_BLOWUP × the zero predictor's error),
and every record from the first diverged one on is set to NaN.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from metarep import ode
from metarep.errors import ConfigError

#: Sweepable configuration keys that are fields of :class:`metarep.ode.Hyper` / of its task
#: distribution (key -> field name); ``v_mean`` is broadcast over the M readouts.
_HYPER_FIELDS = {"eta": "eta", "eta_in": "eta_in", "eta_head": "eta_head",
                 "query_batch": "batch"}
_DIST_FIELDS = {"v_std": "v_std", "teacher_spread": "spread", "label_noise": "noise"}
#: Configuration keys that can be swept.
SWEEPABLE = (*_HYPER_FIELDS, "v_mean", *_DIST_FIELDS)


class SweepResult(NamedTuple):
    """Grid axes ``names``/``values`` (one 1-d array per axis), record times ``alpha`` (n,),
    and per grid point (shape = lengths of the axes): eg (*shape, n), Q (*shape, n, K, K),
    R (*shape, n, K, M), a (*shape, n, K), observables name -> (*shape, n), and the boolean
    ``diverged`` (*shape, n)."""

    names: tuple
    values: tuple
    alpha: np.ndarray
    eg: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    observables: dict
    diverged: np.ndarray


def _batched_hyper(cfg, points: dict[str, np.ndarray], T) -> ode.Hyper:
    """A Hyper whose leaves all have a leading grid axis of length G."""
    G = len(next(iter(points.values())))
    base = ode.hyper(cfg, T)
    leaf = lambda x: jnp.broadcast_to(x, (G, *jnp.shape(x)))  # noqa: E731
    hp = jax.tree_util.tree_map(leaf, base)
    dist = hp.dist
    for name, vals in points.items():
        vals = jnp.asarray(vals, dtype=jnp.float64)
        if name in _HYPER_FIELDS:
            hp = hp._replace(**{_HYPER_FIELDS[name]: vals})
        elif name == "v_mean":
            dist = dist._replace(v_bar=jnp.broadcast_to(vals[:, None], (G, cfg.M)))
        elif name in _DIST_FIELDS:
            dist = dist._replace(**{_DIST_FIELDS[name]: vals})
    return hp._replace(dist=dist)


def _check(name: str, vals: np.ndarray) -> None:
    if name not in SWEEPABLE:
        raise ConfigError(f"cannot sweep {name!r}; sweepable keys: {', '.join(SWEEPABLE)}")
    if vals.ndim != 1 or vals.size == 0 or not np.all(np.isfinite(vals)):
        raise ConfigError(f"sweep values of {name} must be a non-empty 1-d array of numbers")
    low = {"query_batch": 1.0}.get(name, -np.inf if name == "v_mean" else 0.0)
    if np.any(vals < low) or (name == "teacher_spread" and np.any(vals >= 1)):
        raise ConfigError(f"sweep values of {name} out of range")


@partial(jax.jit, static_argnames=("steps", "first_order"))
def _run_chunk(s0, hp, grid_t, dt, steps, first_order):
    """vmap over the leading axis of every leaf of ``hp``: states, eg, extra, diverged mask;
    records from the first diverged one on are NaN."""
    def one(h):
        states, eg, extra = ode.solve_and_observe(s0, h, grid_t, dt, steps, first_order)
        bad = jnp.cumsum(ode.diverged(states, eg, h.dist)) > 0

        def nan(x):
            return jnp.where(bad.reshape(bad.shape + (1,) * (x.ndim - 1)), jnp.nan, x)

        return (jax.tree_util.tree_map(nan, states), nan(eg),
                {k: nan(v) for k, v in extra.items()}, bad)

    return jax.vmap(one)(hp)


def sweep(cfg, grid: dict, alphas=None, *, state0=None, T=None, chunk: int = 1024,
          workers: int | None = None, points: bool = False, devices=None):
    """Integrate the ODE of ``cfg`` at every point of the outer-product ``grid``.

    grid: {key: 1-d values} with keys from :data:`SWEEPABLE` (``v_mean`` sets all readout
    means). alphas: record times (default cfg.record_alphas; must start at 0 or later — the
    state at α = 0 is prepended internally as in :func:`metarep.ode.integrate`). state0, T:
    as in :func:`metarep.ode.integrate`. Grid points are vmapped in chunks of at most
    ``chunk`` points, run concurrently by ``workers`` threads (default: one per available
    core; a compiled XLA call runs outside the GIL).
    ``points = True``: the values of ``grid`` are the coordinates of G points (one value per
    point and key, equal lengths), not the axes of an outer product; the result has one grid
    axis of length G. ``devices`` (a sequence of JAX devices): the chunks of exactly ``chunk``
    points (the last one padded by repeating its last point) are spread over these devices,
    each running the same one-device program, so that the numbers do not depend on the
    number of devices (at once on accelerators, one after the other on CPU devices).
    Returns a :class:`SweepResult`.
    """
    ode._check_support(cfg)
    names = tuple(grid)
    values = tuple(np.atleast_1d(np.asarray(grid[k], dtype=float)) for k in names)
    for name, vals in zip(names, values):
        _check(name, vals)
    if points:
        if len({len(v) for v in values}) != 1:
            raise ConfigError("sweep points: every key needs one value per point "
                              f"(got {dict(zip(names, map(len, values)))})")
        shape = (len(values[0]),)
        points = dict(zip(names, values))
    else:
        shape = tuple(len(v) for v in values)
        mesh = np.meshgrid(*values, indexing="ij")
        points = {k: m.ravel() for k, m in zip(names, mesh)}
    alphas = cfg.record_alphas if alphas is None else alphas
    t, drop_first = ode._time_grid(alphas)
    if state0 is None:
        s0, T0 = ode.initial_state(cfg)
    else:
        s0, T0 = ode.State(*(jnp.asarray(x, dtype=jnp.float64) for x in state0)), None
    T = T0 if T is None else T
    hp = _batched_hyper(cfg, points, T)
    grid_t = jnp.asarray(ode.padded_grid(t))
    G = int(np.prod(shape))
    if devices:
        # accelerators run their chunks at once (a thread each); CPU devices share the host's
        # cores, and two XLA:CPU host devices running at once deadlocked here: one at a time
        workers = len(devices) if devices[0].platform != "cpu" else 1
        size = chunk
    else:
        workers = max(1, min(workers or len(os.sched_getaffinity(0)), G))
        size = min(chunk, -(-G // workers))

    def part(start):
        # every chunk has the same size (the last one repeats its last point): one compilation
        idx = np.minimum(np.arange(start, start + size), G - 1)
        return jax.tree_util.tree_map(lambda x: x[idx], hp)

    def compile_for(device=None):
        args = (s0, part(0), grid_t) if device is None else \
            jax.device_put((s0, part(0), grid_t), device)
        return _run_chunk.lower(*args, cfg.dt, steps=cfg.inner_steps,
                                first_order=cfg.first_order).compile()

    if devices:
        # chunk k runs on devices[k mod D]; every device runs the same one-device program
        # (a jit over inputs sharded across devices rounds some points differently)
        compiled = [compile_for(d) for d in devices]
    else:
        compiled = [compile_for()]

    def run(start):
        k = (start // size) % len(compiled)
        args = (s0, part(start), grid_t)
        if devices:
            args = jax.device_put(args, devices[k])
        out = compiled[k](*args, cfg.dt)
        return jax.tree_util.tree_map(lambda x: np.asarray(x)[:G - start], out)

    starts = list(range(0, G, size))
    with ThreadPoolExecutor(max_workers=workers) as pool:   # XLA releases the GIL
        outs = list(pool.map(run, starts))
    states, eg, extra, bad = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *outs)
    sl = slice(1 if drop_first else 0, len(t))       # requested records only (no padding)

    def rs(x):  # (G, n_grid, ...) -> (*shape, n_records, ...)
        return x.reshape(shape + x.shape[1:])[(slice(None),) * len(shape) + (sl,)]

    return SweepResult(names, values, t[sl], rs(eg), rs(states.Q), rs(states.R), rs(states.a),
                       {k: rs(v) for k, v in extra.items()}, rs(bad))


__all__ = ["SWEEPABLE", "SweepResult", "sweep"]
