r"""The ODE integrated over a grid of hyper-parameters at once (phase diagrams).

The numeric hyper-parameters are leaves of :class:`metarep.drift.Hyper`, so every point of
an outer-product grid is one run of :func:`metarep.ode.integrate_batch` (one compiled,
vmapped program); the structure (K, M, S = ``inner_steps``, ``first_order``) and the step
``dt`` are shared. Example::

    res = sweep(cfg, {"eta": np.linspace(0.1, 3, 32), "eta_in": np.linspace(0, 2, 32)})
    res.eg[i, j, -1]        # final meta-test error at eta[i], eta_in[j]

Diverged runs do not raise: their records are flagged in ``diverged`` (the criterion of
:func:`metarep.divergence.diverged`) and every record from the first diverged one on is NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from metarep import drift, ode
from metarep.errors import ConfigError

#: Sweepable configuration keys that are fields of :class:`metarep.drift.Hyper` / of its task
#: distribution (key -> field name); ``v_mean`` is broadcast over the M readouts.
_HYPER_FIELDS = {"eta": "eta", "eta_in": "eta_in", "eta_head": "eta_head",
                 "query_batch": "batch"}
_DIST_FIELDS = {"v_std": "v_std", "teacher_spread": "spread", "label_noise": "noise"}
#: Configuration keys that can be swept. ``support`` (P, or ∞) changes the structure of the
#: program: the points of each support size are integrated by a program of their own.
SWEEPABLE = (*_HYPER_FIELDS, "v_mean", *_DIST_FIELDS, "support")


class SweepResult(NamedTuple):
    """Grid axes ``names``/``values`` (one 1-d array per axis), record times ``alpha`` (n,),
    and per grid point (shape = lengths of the axes): eg (*shape, n), Q (*shape, n, K, K),
    R (*shape, n, K, M), a (*shape, n, K), observables name -> (*shape, n), the boolean
    ``diverged`` (*shape, n), and the estimated integration error of each run ``error``
    (*shape; relative, see :func:`metarep.ode.integrate_batch`; NaN for diverged runs)."""

    names: tuple
    values: tuple
    alpha: np.ndarray
    eg: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    observables: dict
    diverged: np.ndarray
    error: np.ndarray


def grid_hypers(cfg, points: dict[str, np.ndarray], T=None, G: int | None = None
                ) -> drift.Hyper:
    """A Hyper whose leaves all have a leading axis of length G: the configuration's values,
    with the keys of ``points`` ({key: (G,) values}, keys of :data:`SWEEPABLE` except
    ``support``) replaced (G: the number of points, needed when ``points`` is empty)."""
    G = len(next(iter(points.values()))) if G is None else G
    base = drift.hyper(cfg, T)
    lead = lambda x: jnp.broadcast_to(x, (G, *jnp.shape(x)))  # noqa: E731
    hp = jax.tree_util.tree_map(lead, base)
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
    low = {"query_batch": 1.0}.get(name, -np.inf if name == "v_mean" else 0.0)
    if name == "support":
        if vals.ndim != 1 or vals.size == 0 or np.any(np.isnan(vals)) or np.any(vals < 1) \
                or np.any((vals != np.round(vals)) & np.isfinite(vals)):
            raise ConfigError("sweep values of support must be integers >= 1 or inf")
        return
    if vals.ndim != 1 or vals.size == 0 or not np.all(np.isfinite(vals)):
        raise ConfigError(f"sweep values of {name} must be a non-empty 1-d array of numbers")
    if np.any(vals < low) or (name == "teacher_spread" and np.any(vals >= 1)):
        raise ConfigError(f"sweep values of {name} out of range")


def sweep(cfg, grid: dict, alphas=None, *, state0=None, T=None, chunk: int = 1024,
          workers: int | None = None, points: bool = False, devices=None):
    """Integrate the ODE of ``cfg`` at every point of the outer-product ``grid``.

    grid: {key: 1-d values} with keys from :data:`SWEEPABLE` (``v_mean`` sets all readout
    means). alphas: record times (default cfg.record_alphas). state0, T: as in
    :func:`metarep.ode.integrate`. Runs are those of :func:`metarep.ode.integrate_batch`
    (``chunk``, ``workers``, ``devices``) with ``on_divergence="mask"``; an inaccurate
    integration warns. ``points = True``: the values of ``grid`` are the coordinates of G
    points (one value per point and key, equal lengths), not the axes of an outer product;
    the result has one grid axis of length G. Returns a :class:`SweepResult`.
    """
    return sweeps(cfg, [grid], alphas, state0=state0, T=T, chunk=chunk, workers=workers,
                  points=points, devices=devices)[0]


def _layout(grid: dict, points: bool):
    """(names, values, shape, {key: (G,) coordinates}) of an outer-product grid, or of a
    list of points (``points``)."""
    names = tuple(grid)
    values = tuple(np.atleast_1d(np.asarray(grid[k], dtype=float)) for k in names)
    for name, vals in zip(names, values):
        _check(name, vals)
    if points:
        if len({len(v) for v in values}) != 1:
            raise ConfigError("sweep points: every key needs one value per point "
                              f"(got {dict(zip(names, map(len, values)))})")
        return names, values, (len(values[0]),), dict(zip(names, values))
    mesh = np.meshgrid(*values, indexing="ij")
    return (names, values, tuple(len(v) for v in values),
            {k: m.ravel() for k, m in zip(names, mesh)})


def sweeps(cfg, grids, alphas=None, *, state0=None, T=None, chunk: int = 1024,
           workers: int | None = None, accuracy: str = "warn", points: bool = False,
           devices=None) -> list:
    """:func:`sweep` of several outer-product grids of the same configuration structure (the
    same K, M, S, meta-gradient, dt and record times) in one batch: one compiled program for
    all their points of each support size (``support`` may be swept: P, or ``np.inf``). ``grids``: a sequence of {key: 1-d values}; the grids may sweep
    different keys. ``accuracy`` as in :func:`metarep.ode.integrate_batch` (the estimate is
    in each result's ``error`` unless ``"off"``); ``points`` and ``devices`` as in
    :func:`sweep`. Returns one :class:`SweepResult` per grid.
    """
    layouts, parts = [], []
    for grid in grids:
        names, values, shape, part = _layout(grid, points)
        layouts.append((names, values, shape))
        parts.append(part)
    sizes = [int(np.prod(shape)) for _, _, shape in layouts]
    G = sum(sizes)
    if state0 is None:
        s0, T0 = ode.initial_state(cfg)
        T = T0 if T is None else T
    # the points of each support size form one batch (one compiled program per size)
    support = np.concatenate([part.get("support", np.full(size, np.nan))
                              for part, size in zip(parts, sizes)])
    groups = {}
    for value in np.unique(support):      # NaN (the configuration's own support) sorts last
        idx = np.flatnonzero(np.isnan(support) if np.isnan(value) else support == value)
        groups[value] = idx
    run = None
    for value, idx in groups.items():
        sub = cfg if np.isnan(value) else cfg.replace(
            support="inf" if np.isinf(value) else int(value))
        hypers, offset = [], 0
        for part, size in zip(parts, sizes):
            mine = idx[(idx >= offset) & (idx < offset + size)] - offset
            offset += size
            if len(mine):
                hypers.append(grid_hypers(sub, {k: v[mine] for k, v in part.items()
                                                if k != "support"}, T, G=len(mine)))
        hypers = jax.tree_util.tree_map(lambda *x: np.concatenate([np.asarray(v) for v in x]),
                                        *hypers)
        states = None if state0 is None else ode.stack_states([state0] * len(idx))
        batch = ode.integrate_batch(sub, alphas, states=states, hypers=hypers,
                                    on_divergence="mask", accuracy=accuracy, chunk=chunk,
                                    workers=workers, devices=devices)
        if run is None:
            run = batch._replace(**{f: np.empty((G, *np.shape(getattr(batch, f))[1:]),
                                                dtype=np.asarray(getattr(batch, f)).dtype)
                                    for f in ("Q", "R", "a", "eg", "diverged", "error", "T")},
                                 observables={k: np.empty((G, *v.shape[1:]), v.dtype)
                                              for k, v in batch.observables.items()})
        for f in ("Q", "R", "a", "eg", "diverged", "error", "T"):
            getattr(run, f)[idx] = getattr(batch, f)
        for k, v in batch.observables.items():
            run.observables[k][idx] = v
    out, start = [], 0
    for (names, values, shape), size in zip(layouts, sizes):
        sl = slice(start, start + size)
        start += size

        def rs(x, sl=sl, shape=shape):  # (G, n, ...) -> (*shape, n, ...)
            x = x[sl]
            return x.reshape(shape + x.shape[1:])

        out.append(SweepResult(names, values, run.alpha, rs(run.eg), rs(run.Q), rs(run.R),
                               rs(run.a), {k: rs(v) for k, v in run.observables.items()},
                               rs(run.diverged), rs(run.error)))
    return out


__all__ = ["SWEEPABLE", "SweepResult", "grid_hypers", "sweep", "sweeps"]
