"""The memory a run will need, estimated from its sizes before it starts.

The command line checks the estimate against the memory of the machine before computing
anything (:func:`check`), so that a configuration that cannot fit (K = 1000, N = 10⁹,
alpha_max = 10⁷ with record_every = 1, …) stops with a one-line error naming the key to change
instead of failing inside the XLA runtime minutes later. The estimate is rough: within a
factor of two of the measured peak resident memory of whole processes for K, M ≤ 45, N ≤ 10⁶
and the README's runs (``tests/test_footprint.py``). It sums the terms that grow with the
sizes, each attributed to the key or option that makes it smaller:

* the initial microscopic weights B (M, N) and W (K, N) of each seed (float64), from which the
  initial order parameters are computed (not needed for explicit ``Q0``/``R0`` with the
  orthogonal teacher);
* the simulator's training state, seeds × (K + M + rows of a step's inputs) × N numbers, with
  a measured factor of 5 for the copies a compiled step holds;
* the ODE's noise term, whose pairs (k ≤ l) × (p ≤ q) of the K + M fields take about 2 kB
  each (measured);
* the recorded states (padded to a power of two by the ODE) and the table written from them;
* the Monte-Carlo batches of the simulator's meta-test error;
* a fixed 0.5 GB for Python, JAX and its compiled programs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from metarep.config import Config
from metarep.errors import ConfigError

try:                      # POSIX only: Windows has no address-space limit to read
    import resource
except ImportError:       # pragma: no cover - exercised on Windows
    resource = None

#: Bytes of one number (the estimate counts float64 throughout).
_FLOAT = 8
#: Measured peak bytes per (k ≤ l) × (p ≤ q) pair of the ODE's noise term (1.4-1.8 kB for
#: K = 30, 45; :func:`metarep.metaloss.noise_term`).
_BYTES_PER_PAIR = 2000
#: Copies of the training state a compiled simulation step holds (measured: 4 for N = 10⁶).
_STATE_COPIES = 5
#: Bytes per cell of a CSV table while it is written (text of the rows held in memory).
_BYTES_PER_CELL = 100
#: Python, JAX and compiled programs.
_BASE = 0.5e9


@dataclass(frozen=True)
class Term:
    """One part of the estimate: bytes, what it is, and how to make it smaller (the key or
    option to change)."""

    bytes: float
    what: str
    advice: str


@dataclass(frozen=True)
class Footprint:
    """The terms of a run's memory estimate; ``total`` is their sum plus :data:`_BASE`."""

    terms: tuple[Term, ...]

    @property
    def total(self) -> float:
        return _BASE + sum(t.bytes for t in self.terms)

    @property
    def largest(self) -> Term:
        return max(self.terms, key=lambda t: t.bytes)


#: Advice for the terms that grow with the number of records.
_FEWER_RECORDS = "increase record_every or reduce alpha_max"


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def _records(cfg: Config) -> int:
    """Number of recorded times of ``cfg`` (``cfg.record_alphas``), without building them."""
    return int(math.floor(cfg.alpha_max / cfg.record_every + 1e-9)) + 2


def _state_floats(cfg: Config) -> int:
    """Numbers of one recorded state and its observables: Q, R, a, eg and four more."""
    return cfg.K * cfg.K + cfg.K * cfg.M + cfg.K + 5


def _table(rows: int, cfg: Config, written: bool) -> list[Term]:
    if not written:
        return []
    cells = rows * (_state_floats(cfg) + cfg.M * (cfg.M + 1) // 2 + 2)
    return [Term(cells * _BYTES_PER_CELL, f"the CSV table ({rows:.3g} rows)", _FEWER_RECORDS)]


def _initial_weights(cfg: Config, copies: int) -> list[Term]:
    """The microscopic initial weights of the simulator."""
    return [Term(3.0 * copies * (cfg.K + cfg.M) * cfg.N * _FLOAT,
                 "the initial weights B, W (K + M rows of N numbers)", "reduce N")]


def _theory_start(cfg: Config) -> list[Term]:
    """The ODE's initial overlaps are drawn from their law without N-dimensional arrays,
    except for the degenerate sizes N < K + M (:mod:`metarep.initial`)."""
    return _initial_weights(cfg, 1) if cfg.N < cfg.K + cfg.M else []


def _noise_term(cfg: Config, runs: int) -> Term:
    n = cfg.K + cfg.M
    pairs = cfg.K * (cfg.K + 1) / 2 * n * (n + 1) / 2
    return Term(runs * pairs * _BYTES_PER_PAIR,
                "the ODE's noise term (K(K+1)/2 × (K+M)(K+M+1)/2 pairs of fields)", "reduce K")


#: Measured bytes per number of the finite-support draws (SAMPLES × P × (K + M + 1)) at the
#: ODE's peak (about 5.4 copies: fields, activations and their derivatives; 1.3 GB at
#: P = 20 000 and 3.0 GB at P = 80 000 for K = M = 2), rounded up.
_BYTES_PER_DRAW = 6 * _FLOAT


def _support_draws(cfg: Config, runs: int) -> list[Term]:
    """The field-space draws of a finite support (:mod:`metarep.support`), per run."""
    if cfg.P is None:
        return []
    from metarep.support import SAMPLES

    return [Term(runs * SAMPLES * cfg.P * (cfg.K + cfg.M + 1) * _BYTES_PER_DRAW,
                 f"the support sets of the finite-P theory ({SAMPLES} × P = {cfg.P} samples)",
                 "reduce support")]


def _ode_records(cfg: Config, runs: int) -> Term:
    records = _records(cfg)
    padded = 1 << max(4, math.ceil(math.log2(records)))
    return Term(6.0 * runs * padded * _state_floats(cfg) * _FLOAT,
                f"the recorded states of the ODE ({runs} × {records:.3g} records)",
                _FEWER_RECORDS)


def ode_footprint(cfg: Config, csv: bool = False) -> Footprint:
    """Memory of ``metarep ode`` for ``cfg``: noise term, records (padded to a power of two)
    and, if ``csv``, the table (no N-dimensional weights: the initial overlaps are drawn from
    their law)."""
    return Footprint((*_theory_start(cfg), _noise_term(cfg, 1), *_support_draws(cfg, 1),
                      _ode_records(cfg, 1), *_table(_records(cfg), cfg, csv)))


def theory_footprint(cfg: Config, seeds: int) -> Footprint:
    """Memory of the theory of ``seeds`` simulation seeds (one vmapped ODE integration)."""
    return Footprint((*_theory_start(cfg), _noise_term(cfg, seeds),
                      *_support_draws(cfg, seeds), _ode_records(cfg, seeds)))


def sim_footprint(cfg: Config, seeds: int, eg_tasks: int = 2000, compare_ode: bool = False,
                  csv: bool = False) -> Footprint:
    """Memory of ``metarep sim`` for ``cfg`` and ``seeds`` seeds: initial weights, training
    state, Monte-Carlo batches (``eg_tasks`` tasks per estimate), records, the table if
    ``csv``, and with ``compare_ode`` the :func:`theory_footprint` of the seeds."""
    records = _records(cfg)
    rows = (cfg.P or 0) + cfg.query_batch + cfg.M
    per_task = ((cfg.P or 0) + 50) * (cfg.K + cfg.M) * 4
    terms = [*_initial_weights(cfg, seeds),
             Term(_STATE_COPIES * seeds * (cfg.K + cfg.M + rows) * cfg.N * _FLOAT,
                  f"the training state ({_seeds(seeds)} × (K + M + {rows}) × N numbers)",
                  "reduce N or --seeds"),
             Term(seeds * min(2**24, min(eg_tasks, 1024) * per_task) * _FLOAT,
                  "the Monte-Carlo batches of the meta-test error", "reduce --eg-tasks"),
             Term(3.0 * seeds * records * _state_floats(cfg) * _FLOAT,
                  f"the recorded states ({_seeds(seeds)} × {records:.3g} records)",
                  _FEWER_RECORDS),
             *_table(seeds * records, cfg, csv)]
    if compare_ode:
        terms += theory_footprint(cfg, seeds).terms
    return Footprint(tuple(terms))


def memory_limit() -> tuple[float, str]:
    """(bytes, description) of the memory this process may use: the smallest of the
    machine's memory, the cgroup limit and the address-space limit (``ulimit -v``)."""
    limits = []
    try:
        limits.append((os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
                       "this machine's memory"))
    except (ValueError, OSError, AttributeError):    # AttributeError: no os.sysconf (Windows)
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            limits.append((int(text), "the memory limit of this process's cgroup"))
        break
    if resource is not None:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append((soft, "the address-space limit (ulimit -v)"))
    return min(limits) if limits else (math.inf, "no known limit")


def _gb(x: float) -> str:
    return f"{x / 1e9:.3g} GB" if x < 1e12 else f"{x / 1e12:.3g} TB"


def check(fp: Footprint, command: str, limit: tuple[float, str] | None = None) -> None:
    """Raise :class:`~metarep.errors.ConfigError` when the estimate ``fp`` exceeds the memory
    ``limit`` (default :func:`memory_limit`), naming the largest term and the key to change."""
    avail, where = memory_limit() if limit is None else limit
    if fp.total > avail:
        big = fp.largest
        raise ConfigError(f"{command} would need about {_gb(fp.total)} of memory, more than "
                          f"{where} ({_gb(avail)}); most of it for {big.what}: "
                          f"{big.advice}")


__all__ = ["Term", "Footprint", "ode_footprint", "theory_footprint", "sim_footprint",
           "memory_limit", "check"]
