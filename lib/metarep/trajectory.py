"""Recorded trajectories of the order parameters, and their CSV/NPZ files.

A :class:`Trajectory` holds the recorded states of one ODE integration, or of several
runs with a seed each — simulation seeds, or the ODE started from each seed's initial state
(then every array has a leading seed axis). Tables (the appendix *Reproducing and rerunning*
documents them) have the columns ``alpha, eg, Q_i_j (i <= j), R_i_m, a_i`` (indices from 0),
then any other observables, then the teacher overlaps ``T_m_n (m <= n)``, then ``seed`` for
runs with seeds (one row per seed and record). A CSV table's configuration is written beside
it as ``<stem>.config.toml`` (:func:`config_path`); an NPZ file holds its configuration itself.
"""

from __future__ import annotations

import csv
import dataclasses
import tomllib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from metarep import metaloss, support
from metarep.analysis import seed_stats
from metarep.config import RUN_TABLE, Config, read_toml
from metarep.observables import specialization_index
from metarep.downloads import write_csv


@partial(jax.jit, static_argnums=9)
def _state_error(Q, R, a, T, v_bar, v_std, spread, noise, eta_in, steps, draws=None):
    def one(Q, R, a, T):
        dist = metaloss.TaskDist(T, v_bar, v_std, spread, noise)
        return support.meta_test_error(Q, R, a, dist, eta_in, steps, draws)

    return jnp.vectorize(one, signature="(k,k),(k,m),(k),(m,m)->()")(Q, R, a, T)


def config_path(table: str | Path) -> Path:
    """Where the configuration of the CSV table ``table`` is written: ``<stem>.config.toml``
    in the same folder (``run.csv`` → ``run.config.toml``), never the table itself."""
    table = Path(table)
    return table.with_name(f"{table.stem}.config.toml")


def _config_from_text(text: str) -> tuple[Config, dict]:
    """(Config, provenance) of a configuration's TOML text with an optional ``[run]`` table."""
    values = tomllib.loads(text)
    run = values.pop(RUN_TABLE, {})
    return Config.from_dict(values), run


@dataclass(frozen=True)
class Trajectory:
    """States recorded at times ``alpha``.

    Shapes, with ``...`` = (n_seeds,) for runs with seeds and () for one ODE run:
    alpha (n,), Q (..., n, K, K), R (..., n, K, M), a (..., n, K), eg (..., n),
    observables: name -> (..., n), seeds (n_seeds,) or None, T the teacher overlaps, (M, M)
    or, one per seed, (n_seeds, M, M).
    """

    alpha: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    eg: np.ndarray
    observables: dict[str, np.ndarray] = field(default_factory=dict)
    seeds: np.ndarray | None = None
    config: Config | None = None
    T: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("alpha", "Q", "R", "a", "eg"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        object.__setattr__(self, "observables",
                           {k: np.asarray(v, dtype=float) for k, v in self.observables.items()})
        if self.seeds is not None:
            object.__setattr__(self, "seeds", np.asarray(self.seeds, dtype=int))
        lead = () if self.seeds is None else (len(self.seeds),)
        n, K, M = len(self.alpha), self.Q.shape[-1], self.R.shape[-1]
        expected = {"Q": (*lead, n, K, K), "R": (*lead, n, K, M), "a": (*lead, n, K),
                    "eg": (*lead, n), **{k: (*lead, n) for k in self.observables}}
        for name, shape in expected.items():
            value = self.observables[name] if name in self.observables else getattr(self, name)
            if value.shape != shape:
                raise ValueError(f"trajectory field {name} has shape {value.shape}, "
                                 f"expected {shape}")
        T = np.eye(M) if self.T is None else np.asarray(self.T, dtype=float)
        if T.shape not in ((M, M), (*lead, M, M)):
            raise ValueError(f"trajectory field T has shape {T.shape}, expected {(M, M)} or "
                             f"{(*lead, M, M)}")
        object.__setattr__(self, "T", T)

    @property
    def K(self) -> int:
        return self.Q.shape[-1]

    @property
    def M(self) -> int:
        return self.R.shape[-1]

    @property
    def has_seeds(self) -> bool:
        return self.seeds is not None

    @property
    def T_records(self) -> np.ndarray:
        """The teacher overlaps broadcast to every record, shape (..., n, M, M)."""
        T = self.T if self.T.ndim == 2 else self.T[:, None]
        return np.broadcast_to(T, (*self.eg.shape, self.M, self.M))

    def cosines(self) -> np.ndarray:
        """Student-teacher cosines R_km / √(Q_kk T_mm), shape (..., n, K, M)."""
        q = np.sqrt(np.diagonal(self.Q, axis1=-2, axis2=-1))[..., :, None]
        t = np.sqrt(np.diagonal(self.T_records, axis1=-2, axis2=-1))[..., None, :]
        return self.R / (q * t)

    def specialization(self) -> np.ndarray:
        """Specialization index of every record (shape of ``eg``;
        :func:`metarep.observables.specialization_index`)."""
        return np.asarray(specialization_index(self.Q, self.R, self.T_records))

    def state_error(self, cfg: Config | None = None) -> np.ndarray:
        """The meta-test error F(Q, R, a) (book equation ``eq-metaloss``; F_P of
        ``eq-fs-expansion`` with a finite support) of every
        recorded state (shape of ``eg``), with the task distribution of ``cfg`` (default the
        trajectory's configuration) and the trajectory's T (per seed when it has one). For a
        simulation this is the error of each run's state without the Monte-Carlo noise of its
        ``eg`` estimate (simulate with ``eg_tasks=0`` to skip that estimate)."""
        cfg = self.config if cfg is None else cfg
        if cfg is None:
            raise ValueError("state_error needs a configuration (the trajectory has none)")
        dist = metaloss.task_dist(cfg)
        return np.asarray(_state_error(self.Q, self.R, self.a, self.T_records, dist.v_bar,
                                       dist.v_std, dist.spread, dist.noise,
                                       float(cfg.eta_in), int(cfg.inner_steps),
                                       None if cfg.P is None else
                                       support.draws(cfg.P, cfg.K, cfg.M)))

    def select(self, seeds) -> "Trajectory":
        """The runs of some of the seeds (in the given order)."""
        if not self.has_seeds:
            raise ValueError("this trajectory has no seed axis")
        idx = [int(np.flatnonzero(self.seeds == s)[0]) for s in seeds]
        pick = lambda x: x[idx]  # noqa: E731
        return Trajectory(self.alpha, pick(self.Q), pick(self.R), pick(self.a), pick(self.eg),
                          {k: pick(v) for k, v in self.observables.items()},
                          self.seeds[idx], self.config, self.T if self.T.ndim == 2
                          else pick(self.T))

    def run(self, seed) -> "Trajectory":
        """The run of one seed, without a seed axis (e.g. for
        :func:`metarep.analysis.phases`, which reads one run)."""
        one = self.select([seed])
        return Trajectory(one.alpha, one.Q[0], one.R[0], one.a[0], one.eg[0],
                          {k: v[0] for k, v in one.observables.items()}, None, one.config,
                          one.T if one.T.ndim == 2 else one.T[0])

    def records(self, index) -> "Trajectory":
        """The records ``index`` (indices, a slice or a boolean mask over ``alpha``) of every
        field, e.g. ``traj.records(traj.alpha <= 20)``; seeds, configuration and T are kept."""
        idx = np.arange(len(self.alpha))[index]
        axis = 1 if self.has_seeds else 0          # the record axis follows the seed axis
        take = lambda x: np.take(x, idx, axis=axis)  # noqa: E731
        return dataclasses.replace(
            self, alpha=self.alpha[idx], Q=take(self.Q), R=take(self.R), a=take(self.a),
            eg=take(self.eg), observables={k: take(v) for k, v in self.observables.items()})

    def replace(self, **changes) -> "Trajectory":
        return dataclasses.replace(self, **changes)

    # -- statistics over seeds -------------------------------------------------------------
    def _over_seeds(self, reduce) -> "Trajectory":
        if not self.has_seeds:
            raise ValueError("this trajectory has no seed axis")
        T = self.T if self.T.ndim == 2 else self.T.mean(axis=0)
        return Trajectory(self.alpha, reduce(self.Q), reduce(self.R), reduce(self.a),
                          reduce(self.eg), {k: reduce(v) for k, v in self.observables.items()},
                          None, self.config, T)

    def seed_mean(self) -> "Trajectory":
        """Average over seeds (every field; :func:`metarep.analysis.seed_stats`)."""
        return self._over_seeds(lambda x: seed_stats(x).mean)

    def seed_sem(self) -> "Trajectory":
        """Standard error of the seed average (:func:`metarep.analysis.seed_stats`: sample
        std with ddof = 1 over √n; NaN for one seed)."""
        return self._over_seeds(lambda x: seed_stats(x).sem)

    # -- tables ----------------------------------------------------------------------------
    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns ``eg, Q_i_j (i <= j), R_i_m, a_i``, then the observables; arrays of
        shape (..., n)."""
        K, M = self.K, self.M
        cols = {"eg": self.eg}
        cols.update({f"Q_{i}_{j}": self.Q[..., i, j] for i in range(K) for j in range(i, K)})
        cols.update({f"R_{i}_{m}": self.R[..., i, m] for i in range(K) for m in range(M)})
        cols.update({f"a_{i}": self.a[..., i] for i in range(K)})
        cols.update(self.observables)
        return cols

    def table(self) -> dict[str, np.ndarray]:
        """The rows of :meth:`to_csv` as 1-d columns: ``alpha``, :meth:`columns`, the teacher
        overlaps ``T_m_n`` (m <= n, the same on every row of a seed), then ``seed`` for runs
        with seeds (one row per seed and record, seed by seed)."""
        flat = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in self.columns().items()}
        T = self.T_records
        teacher = {f"T_{m}_{n}": T[..., m, n].reshape(-1)
                   for m in range(self.M) for n in range(m, self.M)}
        if not self.has_seeds:
            return {"alpha": np.asarray(self.alpha, dtype=float), **flat, **teacher}
        n = len(self.alpha)
        return {"alpha": np.tile(np.asarray(self.alpha, dtype=float), len(self.seeds)),
                **flat, **teacher, "seed": np.repeat(np.asarray(self.seeds, dtype=int), n)}

    def to_csv(self, path: str | Path, run: dict | None = None) -> Path:
        """Write the table (one row per record, per seed for simulations) and return the path.

        When the trajectory carries its configuration, it is written beside the table as
        :func:`config_path` (``<stem>.config.toml``), with the provenance ``run`` (if given)
        as its ``[run]`` table, so that the run can be repeated from the command line.
        """
        path = write_csv(path, self.table())
        if self.config is not None:
            config_path(path).write_text(self.config.to_toml(run))
        return path

    @classmethod
    def from_csv(cls, path: str | Path, config: Config | None = None) -> "Trajectory":
        """Read a table written by :meth:`to_csv` (K and M are inferred from the columns).

        The configuration is read from :func:`config_path` beside it when not given and
        present. Tables without ``T_m_n`` columns have T = I. Raises ValueError naming the
        file if it is not such a table.
        """
        path = Path(path)
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        header = rows[0] if rows else []
        missing = [c for c in ("alpha", "eg", "Q_0_0", "R_0_0", "a_0") if c not in header]
        if missing or len(rows) < 2:
            raise ValueError(f"{path} is not a trajectory table (written by metarep): "
                             + (f"no column {missing[0]!r}" if missing else "no rows"))
        try:
            data = np.array(rows[1:], dtype=float)
        except ValueError:
            data = None
        if data is None or data.ndim != 2 or data.shape[1] != len(header):
            raise ValueError(f"{path}: a trajectory table has numbers only, and as many on "
                             "every row as in its header")
        col = {name: data[:, i] for i, name in enumerate(header)}
        K = sum(1 for h in header if h.startswith("a_"))
        M = sum(1 for h in header if h.startswith("R_0_"))
        seeds = None
        if "seed" in col:
            seeds = np.unique(col["seed"]).astype(int)
            order = np.lexsort((col["alpha"], col["seed"]))
            col = {k: v[order].reshape(len(seeds), -1) for k, v in col.items()}
            alpha = col["alpha"][0]
        else:
            alpha = col["alpha"]
        T = None
        if "T_0_0" in col:                       # one T per seed (first record), or one T
            T = np.empty((*col["eg"].shape[:-1], M, M))
            for m in range(M):
                for n in range(m, M):
                    T[..., m, n] = T[..., n, m] = col[f"T_{m}_{n}"][..., 0]
            if T.ndim == 3 and np.all(T == T[0]):
                T = T[0]
        Q = np.empty((*col["eg"].shape, K, K))
        for i in range(K):
            for j in range(i, K):
                Q[..., i, j] = Q[..., j, i] = col[f"Q_{i}_{j}"]
        R = np.stack([np.stack([col[f"R_{i}_{m}"] for m in range(M)], -1) for i in range(K)], -2)
        a = np.stack([col[f"a_{i}"] for i in range(K)], -1)
        known = {"alpha", "eg", "seed"} | {f"a_{i}" for i in range(K)}
        observables = {k: v for k, v in col.items()
                       if k not in known and not k.startswith(("Q_", "R_", "T_"))}
        if config is None and config_path(path).exists():
            config = Config.from_toml(config_path(path))
        return cls(alpha, Q, R, a, col["eg"], observables, seeds, config, T)

    def to_npz(self, path: str | Path, run: dict | None = None) -> Path:
        """Save every array, and the configuration as TOML text (with the provenance ``run``
        as its ``[run]`` table, if given), in one ``.npz`` file."""
        path = Path(path)
        arrays = {"alpha": self.alpha, "Q": self.Q, "R": self.R, "a": self.a, "eg": self.eg,
                  "T": self.T, **{f"obs:{k}": v for k, v in self.observables.items()}}
        if self.has_seeds:
            arrays["seeds"] = self.seeds
        if self.config is not None:
            arrays["config_toml"] = np.array(self.config.to_toml(run))
        with open(path, "wb") as fh:      # a file object: np.savez would append ".npz"
            np.savez(fh, **arrays)
        return path

    @classmethod
    def from_npz(cls, path: str | Path) -> "Trajectory":
        """Read a file written by :meth:`to_npz` (its ``[run]`` provenance is ignored)."""
        with np.load(path) as f:
            obs = {k[4:]: f[k] for k in f.files if k.startswith("obs:")}
            config = None
            if "config_toml" in f.files:
                config, _ = _config_from_text(str(f["config_toml"]))
            return cls(f["alpha"], f["Q"], f["R"], f["a"], f["eg"], obs,
                       f["seeds"] if "seeds" in f.files else None, config, f["T"])


def read_table(path: str | Path) -> Trajectory:
    """A trajectory saved by :meth:`Trajectory.to_npz` (``.npz``) or :meth:`Trajectory.to_csv`
    (any other name)."""
    path = Path(path)
    return Trajectory.from_npz(path) if path.suffix == ".npz" else Trajectory.from_csv(path)


def provenance(path: str | Path) -> dict:
    """The ``[run]`` table (command, seeds, versions, ``partial``) saved with the table at
    ``path`` by the command line: inside an NPZ file, or in the CSV's :func:`config_path`;
    empty when there is none."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            return _config_from_text(str(f["config_toml"]))[1] if "config_toml" in f.files \
                else {}
    return read_toml(config_path(path)).get(RUN_TABLE, {}) if config_path(path).exists() \
        else {}
