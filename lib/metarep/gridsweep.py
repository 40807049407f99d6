r"""Sweeps at scale: a grid of configurations, spread over devices and jobs, in one folder.

A :class:`Plan` is a base configuration, a grid (an outer product of values of configuration
keys), the record times and, for simulations, the number of seeds. Its points are numbered
in C order and cut into chunks of ``chunk`` points; each chunk is one table in the results
folder::

    DIR/manifest.json          the plan, the software and the kind of device (checked when
                               the folder is reused)
    DIR/config.toml            the base configuration
    DIR/chunks/chunk-00000.csv one table per chunk: point, the grid keys, (seed,) alpha, eg,
                               Q_i_j, R_i_m, a_i, further observables (one row per point,
                               seed and record)
    DIR/results.csv            all chunks in order, written by :func:`merge`

* **kind "ode"**: the order-parameter ODE (:func:`metarep.sweep.sweep`, the grid keys from
  :data:`metarep.sweep.SWEEPABLE`); the points of a chunk are vmapped in batches of ``batch``
  points, the batches spread over the local devices. Extra column ``diverged`` (1 from the
  first diverged record on).
* **kind "sim"**: the simulation (:func:`metarep.simulator.simulate`, any numeric key of
  :class:`~metarep.config.Config`), each point over ``seeds`` seeds, vmapped in batches of
  ``batch`` seeds, the batches spread over the local devices. Extra column ``eg_sem``.

Every device runs the same one-device program on batches of the same size (accelerators at
the same time, one thread each; CPU devices, which share the host's cores, one after the
other: two XLA:CPU host devices running the simulator at once deadlocked here). A single program sharded over the devices (``jit`` over
sharded inputs, or ``shard_map``) is compiled for several partitions and XLA then rounds
some operations differently: ulp-level differences measured here for ODE points at η = 1.5
and for simulations with σ_B > 0 and S = 2, and a different batch size changes the rounding
of the simulator too; placing whole batches on devices keeps the numbers independent of the
number of devices.

:func:`run` computes the chunks of one shard (``shard = (i, n)``: the chunks j with
j mod n = i, for n independent jobs such as a cluster job array writing into the same folder)
and skips finished chunks, so an interrupted run resumes where it stopped; a chunk is
written atomically (a temporary file renamed), so a finished chunk is complete. A folder that
holds another plan is never overwritten without ``force``. Every chunk's numbers depend only
on the plan: the same on one or several devices, in one job or split over shards.
:func:`merge` checks that every chunk is there and concatenates them.

Command line: ``python -m metarep sweep run ...`` and ``python -m metarep sweep merge DIR``
(see :func:`metarep.cli.run_sweep`).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metarep.config import KEY_HELP, Config
from metarep.downloads import write_csv
from metarep.errors import ConfigError

#: Layout version of the results folder.
FORMAT = 1
KINDS = ("ode", "sim")
#: Configuration keys that cannot be swept in simulations (not numbers, or arrays).
_NOT_SIM_SWEEPABLE = ("support", "first_order", "teacher", "Q0", "R0", "a0", "dtype", "seed",
                      "v_mean")


@dataclass(frozen=True)
class Plan:
    """What a sweep computes. ``names``/``values``: the grid axes (values as tuples of
    floats); ``alphas``: record times; ``seeds``: per point (simulations; seeds cfg.seed, …);
    ``chunk``: points per table; ``eg_method``: simulations' meta-test error, ``eg_tasks``
    its Monte-Carlo tasks (as in :func:`metarep.simulator.simulate`); ``batch``: what
    one device computes at once, ODE points or simulation seeds (vmapped). A device always
    runs batches of this size, whatever the number of devices, so that the numbers depend
    on the plan only (XLA may round differently for another batch size)."""

    kind: str
    config: Config
    names: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    alphas: tuple[float, ...]
    seeds: int = 1
    chunk: int = 64
    eg_method: str = "mc"
    batch: int = 8
    eg_tasks: int = 2000                    # metarep.simulator.EG_TASKS (not imported here)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"sweep kind {self.kind!r}: one of {', '.join(KINDS)}")
        if not self.names or len(self.names) != len(self.values) \
                or len(set(self.names)) != len(self.names):
            raise ConfigError("a sweep needs at least one grid key, each given once")
        if self.chunk < 1 or self.seeds < 1 or self.batch < 1:
            raise ConfigError("chunk, seeds and batch must be >= 1")
        if self.kind == "sim" and self.seeds % min(self.batch, self.seeds):
            raise ConfigError(f"seeds = {self.seeds} must be a multiple of batch = "
                              f"{self.batch} (seeds run in batches of that size)")
        if self.kind == "ode":
            from metarep.sweep import SWEEPABLE, _check

            for name, vals in zip(self.names, self.values):
                if name not in SWEEPABLE:
                    raise ConfigError(f"cannot sweep {name!r} in the ODE; sweepable keys: "
                                      f"{', '.join(SWEEPABLE)}")
                _check(name, np.asarray(vals, dtype=float))
        else:
            from metarep.simulator import EG_METHODS

            if self.eg_method not in EG_METHODS:
                raise ConfigError(f"eg_method {self.eg_method!r}: one of {EG_METHODS}")
            if self.eg_tasks < 0 or self.eg_tasks == 1:
                raise ConfigError(f"eg_tasks = {self.eg_tasks}: 0 (no estimate) or >= 2")
            for name in self.names:
                if name not in KEY_HELP or name in _NOT_SIM_SWEEPABLE:
                    allowed = [k for k in KEY_HELP if k not in _NOT_SIM_SWEEPABLE]
                    raise ConfigError(f"cannot sweep {name!r} in simulations; sweepable "
                                      f"keys: {', '.join(allowed)}")
            for point in self.points():           # every point valid before any computation
                self.point_config(point)

    @property
    def n_points(self) -> int:
        return math.prod(len(v) for v in self.values)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_points // self.chunk)

    def points(self) -> list[tuple[float, ...]]:
        """Every point (one value per grid key), in C order (the last key fastest)."""
        return list(itertools.product(*self.values))

    def chunk_points(self, j: int) -> range:
        """Indices of the points of chunk j."""
        return range(j * self.chunk, min((j + 1) * self.chunk, self.n_points))

    def point_config(self, point) -> Config:
        """The configuration of one point (integer keys given as integral floats)."""
        return self.config.replace(**dict(zip(self.names, point)))

    def manifest(self) -> dict:
        """The plan as JSON data (what :func:`run` compares with an existing folder)."""
        return {"format": FORMAT, "kind": self.kind, "config": self.config.to_dict(),
                "grid": {k: list(v) for k, v in zip(self.names, self.values)},
                "alphas": list(self.alphas), "seeds": self.seeds, "chunk": self.chunk,
                "eg_method": self.eg_method, "eg_tasks": self.eg_tasks, "batch": self.batch,
                "n_points": self.n_points, "n_chunks": self.n_chunks}

    @classmethod
    def from_manifest(cls, data: dict) -> "Plan":
        return cls(kind=data["kind"], config=Config.from_dict(data["config"]),
                   names=tuple(data["grid"]),
                   values=tuple(tuple(float(x) for x in v) for v in data["grid"].values()),
                   alphas=tuple(float(a) for a in data["alphas"]), seeds=int(data["seeds"]),
                   chunk=int(data["chunk"]), eg_method=data["eg_method"],
                   batch=int(data["batch"]), eg_tasks=int(data["eg_tasks"]))


def plan(kind: str, cfg: Config, grid: dict, alphas=None, *, seeds: int = 1, chunk: int = 64,
         eg_method: str = "mc", batch: int | None = None, eg_tasks: int | None = None) -> Plan:
    """A :class:`Plan` from a grid {key: values}; alphas default to ``cfg.record_alphas``;
    batch defaults to 8 ODE points, or min(8, seeds) simulation seeds; eg_tasks to
    :data:`metarep.simulator.EG_TASKS`."""
    from metarep.simulator import EG_TASKS

    alphas = cfg.record_alphas if alphas is None else np.asarray(alphas, dtype=float)
    values = tuple(tuple(float(x) for x in np.atleast_1d(np.asarray(v, dtype=float)))
                   for v in grid.values())
    if batch is None:
        batch = 8 if kind == "ode" else math.gcd(8, int(seeds))
    return Plan(kind, cfg, tuple(grid), values, tuple(float(a) for a in alphas), int(seeds),
                int(chunk), eg_method, int(batch),
                EG_TASKS if eg_tasks is None else int(eg_tasks))


def parse_grid(items: list[str]) -> dict[str, np.ndarray]:
    """``key=v1,v2,...`` (values) or ``key=start:stop:num`` (num evenly spaced values,
    both ends included) → {key: values}."""
    grid = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise ConfigError(f"grid {item!r} is not of the form key=v1,v2,... or "
                              "key=start:stop:num")
        try:
            if ":" in text:
                start, stop, num = text.split(":")
                if not float(num).is_integer() or int(float(num)) < 1:
                    raise ValueError
                values = np.linspace(float(start), float(stop), int(float(num)))
            else:
                values = np.array([float(x) for x in text.split(",")])
        except ValueError:
            raise ConfigError(f"grid {item!r}: values must be numbers, as v1,v2,... or "
                              "start:stop:num with an integer num >= 1") from None
        if key in grid:
            raise ConfigError(f"grid key {key!r} given twice")
        grid[key] = values
    return grid


def parse_shard(text: str) -> tuple[int, int]:
    """``i/n`` → (i, n) with 0 <= i < n."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"shard {text!r} is not of the form i/n (e.g. 0/4)") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"shard {text!r}: need 0 <= i < n")
    return i, n


# ---------------------------------------------------------------------------------------
# The results folder
# ---------------------------------------------------------------------------------------
def chunk_path(out: Path, j: int) -> Path:
    return Path(out) / "chunks" / f"chunk-{j:05d}.csv"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".tmp-", delete=False) as fh:
        fh.write(text)
    os.replace(fh.name, path)


def provenance() -> dict:
    """What else the numbers depend on: the software (metarep's version and source, jax,
    jaxlib) and the kind of device. Chunks are reused only if it is the same."""
    import jax
    import jaxlib

    from metarep import __version__, compile_cache

    device = jax.devices()[0]
    return {"metarep": __version__, "source": compile_cache.source_digest()[:16],
            "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "device": f"{device.platform}: {device.device_kind}"}


def prepare(p: Plan, out: Path, force: bool = False) -> None:
    """Create the folder for plan ``p``, or check that it holds the same plan computed with
    the same software on the same kind of device (:func:`provenance`; then its finished
    chunks are reused). Anything else raises :class:`ConfigError` naming what differs,
    unless ``force`` (which removes the folder's chunks and merged results)."""
    out = Path(out)
    manifest = out / "manifest.json"
    data = {**p.manifest(), "provenance": provenance()}
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except json.JSONDecodeError:
            old = {}
        if old != data:
            differ = sorted(k for k in set(old) | set(data) if old.get(k) != data.get(k))
            differ = [f"provenance.{k}" for k in data["provenance"]
                      if old.get("provenance", {}).get(k) != data["provenance"][k]] \
                if differ == ["provenance"] else differ
            if not force:
                raise ConfigError(f"{out} holds another sweep (differs in {', '.join(differ)}); "
                                  "choose another folder, or --force to replace its results")
            shutil.rmtree(out / "chunks", ignore_errors=True)
            (out / "results.csv").unlink(missing_ok=True)
    elif out.exists() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"{out} exists and is not a sweep folder (no manifest.json); "
                              "choose another folder, or --force to write into it")
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    _write_atomic(manifest, json.dumps(data, indent=1) + "\n")
    _write_atomic(out / "config.toml", p.config.to_toml())


def load(out: Path) -> Plan:
    """The plan of a results folder."""
    manifest = Path(out) / "manifest.json"
    if not manifest.exists():
        raise ConfigError(f"{out} is not a sweep folder (no manifest.json)")
    return Plan.from_manifest(json.loads(manifest.read_text()))


# ---------------------------------------------------------------------------------------
# Computing chunks
# ---------------------------------------------------------------------------------------
def _state_columns(Q, R, a) -> dict:
    """Q_i_j (i <= j), R_i_m, a_i columns from arrays with leading (rows,) axes."""
    K, M = R.shape[-2:]
    cols = {f"Q_{i}_{j}": Q[:, i, j] for i in range(K) for j in range(i, K)}
    cols.update({f"R_{i}_{m}": R[:, i, m] for i in range(K) for m in range(M)})
    cols.update({f"a_{i}": a[:, i] for i in range(K)})
    return cols


def _ode_chunk(p: Plan, idx: range, devices) -> dict:
    from metarep.sweep import sweep

    pts = np.asarray(p.points())[idx.start:idx.stop]
    res = sweep(p.config, {k: pts[:, i] for i, k in enumerate(p.names)}, np.asarray(p.alphas),
                points=True, devices=devices, chunk=p.batch)
    G, n = res.eg.shape
    rows = np.repeat(np.arange(G), n)
    flat = lambda x: x.reshape(G * n, *x.shape[2:])  # noqa: E731
    cols = {"point": np.asarray(idx)[rows]}
    cols.update({k: pts[rows, i] for i, k in enumerate(p.names)})
    cols.update({"alpha": np.tile(res.alpha, G), "eg": flat(res.eg)})
    cols.update(_state_columns(flat(res.Q), flat(res.R), flat(res.a)))
    cols.update({k: flat(v) for k, v in sorted(res.observables.items())})
    cols["diverged"] = flat(res.diverged).astype(int)
    return cols


def _sim_chunk(p: Plan, idx: range, devices) -> dict:
    """Simulations of the chunk's points: every (point, batch of ``p.batch`` seeds) is one
    job, the jobs spread over the devices (job k on device k mod D, each running the
    one-device program; one thread per accelerator)."""
    from concurrent.futures import ThreadPoolExecutor

    from metarep.simulator import simulate

    points = p.points()
    seeds = list(range(p.config.seed, p.config.seed + p.seeds))
    batch = min(p.batch, p.seeds)
    groups = [seeds[k:k + batch] for k in range(0, len(seeds), batch)]
    jobs = [(i, g) for i in idx for g in groups]
    devices = list(devices) if devices else [None]

    def one(k):
        i, group = jobs[k]
        return simulate(p.point_config(points[i]), group, np.asarray(p.alphas),
                        progress=False, eg_method=p.eg_method, eg_tasks=p.eg_tasks,
                        device=devices[k % len(devices)])

    # at once on accelerators; one after the other on CPU devices (see the module docstring)
    at_once = len(devices) if devices[0] is not None and devices[0].platform != "cpu" else 1
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        runs = list(pool.map(one, range(len(jobs))))
    tables = []
    for (i, _), tr in zip(jobs, runs):
        S, n = tr.eg.shape
        flat = lambda x: x.reshape(S * n, *x.shape[2:])  # noqa: E731, B023
        cols = {"point": np.full(S * n, i)}
        cols.update({k: np.full(S * n, v) for k, v in zip(p.names, points[i])})
        cols.update({"seed": np.repeat(tr.seeds, n), "alpha": np.tile(tr.alpha, S),
                     "eg": flat(tr.eg)})
        cols.update(_state_columns(flat(tr.Q), flat(tr.R), flat(tr.a)))
        cols.update({k: flat(v) for k, v in sorted(tr.observables.items())})
        tables.append(cols)
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


def compute_chunk(p: Plan, j: int, devices=None) -> dict:
    """The table of chunk j: {column: 1-d values}."""
    idx = p.chunk_points(j)
    return (_ode_chunk if p.kind == "ode" else _sim_chunk)(p, idx, devices)


def shard_chunks(p: Plan, shard: tuple[int, int] = (0, 1)) -> list[int]:
    """The chunks of shard (i, n): j = i, i + n, i + 2n, …"""
    i, n = shard
    return list(range(i, p.n_chunks, n))


def run(p: Plan, out: Path, shard: tuple[int, int] = (0, 1), devices=None,
        force: bool = False, progress: bool = True) -> dict:
    """Compute the missing chunks of ``shard`` of plan ``p`` into the folder ``out``.

    devices: JAX devices to spread each chunk over (default: all local devices).
    Returns {"computed": [...], "skipped": [...]} (chunk indices)."""
    import jax
    from tqdm import tqdm

    prepare(p, out, force)
    devices = jax.local_devices() if devices is None else list(devices)
    mine = shard_chunks(p, shard)
    done = [j for j in mine if chunk_path(out, j).exists()]
    todo = [j for j in mine if j not in done]
    for j in tqdm(todo, disable=not progress, desc="sweep", unit="chunk"):
        table = compute_chunk(p, j, devices)
        target = chunk_path(out, j)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:   # atomic: all or nothing
            os.replace(write_csv(Path(tmp) / "chunk.csv", table), target)
    return {"computed": todo, "skipped": done}


def missing(out: Path) -> list[int]:
    """Chunks of the folder's plan that are not computed yet."""
    p = load(out)
    return [j for j in range(p.n_chunks) if not chunk_path(out, j).exists()]


def merge(out: Path, force: bool = False) -> Path:
    """Concatenate every chunk of the folder into ``results.csv`` (one header) and return
    its path. Raises :class:`ConfigError` naming the missing chunks, or if ``results.csv``
    exists with other content and not ``force``."""
    out = Path(out)
    p = load(out)
    absent = missing(out)
    if absent:
        shown = ", ".join(map(str, absent[:10])) + (" …" if len(absent) > 10 else "")
        raise ConfigError(f"{out}: {len(absent)} of {p.n_chunks} chunks are missing ({shown});"
                          " run the shards that compute them (the same command resumes)")
    header, lines = None, []
    for j in range(p.n_chunks):
        text = chunk_path(out, j).read_text().splitlines()
        if header is None:
            header = text[0]
        elif text[0] != header:
            raise ConfigError(f"{chunk_path(out, j)} has other columns than chunk 0")
        lines += text[1:]
    merged = "\n".join([header, *lines]) + "\n"
    target = out / "results.csv"
    if target.exists() and target.read_text() != merged and not force:
        raise ConfigError(f"{target} exists with other results; --force to replace it")
    _write_atomic(target, merged)
    return target


def read_table(path: Path) -> dict[str, np.ndarray]:
    """A chunk or merged table as {column: float array}."""
    data = np.genfromtxt(path, delimiter=",", names=True, dtype=float)
    return {name: np.atleast_1d(data[name]) for name in data.dtype.names}


__all__ = ["FORMAT", "KINDS", "Plan", "plan", "parse_grid", "parse_shard", "chunk_path",
           "provenance", "prepare", "load", "compute_chunk", "shard_chunks", "run", "missing", "merge",
           "read_table"]
