"""The frozen configuration of a meta-learning run.

One :class:`Config` describes the microscopic process of the chapter *The scenario* and,
equivalently, the order-parameter ODE that describes it as N → ∞. The same keys are used by
the library, the command line (``--set key=value``) and the TOML configuration files
(``metarep keys`` lists them, see the appendix *Reproducing and rerunning*). Every value is
checked when the object is built; an invalid one raises :class:`~metarep.errors.ConfigError`
naming the key and the allowed range. Files are read by :func:`read_toml`, which names the file
(and line) of any problem; a file may carry a ``[run]`` table (:data:`RUN_TABLE`), the
provenance that the command line writes beside its tables, which is not part of the
configuration.

Example
-------
>>> cfg = Config(K=3, M=2, eta_in=0.5)
>>> cfg.replace(eta=0.5).eta
0.5
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metarep.errors import ConfigError

#: The configuration keys and their meaning: the model's keys, then the initial-state and
#: numerical keys.
KEY_HELP: dict[str, str] = {
    "K": "number of meta-learner hidden units (integer >= 1)",
    "M": "number of meta-teacher hidden units (integer >= 1)",
    "N": "input dimension of the simulation (integer >= 1; M <= N)",
    "eta": "outer (meta) learning rate of the body W (>= 0)",
    "eta_in": "inner-loop learning rate of the head (>= 0)",
    "eta_head": "outer learning rate of the head initialisation a, scaled by 1/N (>= 0)",
    "inner_steps": "number S of inner-loop steps (integer >= 0)",
    "support": 'support size P of the inner loop (integer >= 1) or "inf" (population loss)',
    "query_batch": "query batch size b of the outer loss (integer >= 1)",
    "first_order": "first-order meta-gradient (FO-MAML) instead of the full one (bool)",
    "v_mean": "mean v̄ of the task readouts (a number, or a list of M numbers)",
    "v_std": "standard deviation σ_v of the task readouts (>= 0)",
    "teacher_spread": "teacher spread σ_B of the tasks' first layers, in [0, 1)",
    "label_noise": "label noise standard deviation σ (>= 0)",
    "teacher": 'meta-teacher first layer: "orthogonal" (T = I) or "gaussian"',
    "alpha_max": "final time α = tasks/N (> 0)",
    "record_every": "spacing in α of the recorded states (> 0, <= alpha_max)",
    "seed": "random seed (integer >= 0)",
    "init_scale": "std of the random initial body weights W (> 0)",
    "Q0": "explicit initial Q = W Wᵀ/N (K×K, symmetric positive definite)",
    "R0": "explicit initial R = W Bᵀ/N (K×M)",
    "a0": "initial head a (K numbers; default 0)",
    "dt": "ODE integration step in α (> 0)",
    "dtype": 'simulator precision: "float64" or "float32"',
}


def _numbers(value: Any, key: str) -> np.ndarray:
    """``value`` as a float array, or a ConfigError naming ``key`` (text, ragged lists)."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} = {value!r} is not a number or a (rectangular) array of "
                          f"numbers: {KEY_HELP[key]}") from None


def _matrix(value: Any, shape: tuple[int, ...], key: str) -> tuple | None:
    """Validate an optional explicit initial array and store it as nested tuples."""
    if value is None:
        return None
    arr = _numbers(value, key)
    if arr.shape != shape:
        raise ConfigError(f"{key} must have shape {shape}, got {arr.shape} ({KEY_HELP[key]})")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{key} must be finite ({KEY_HELP[key]})")
    return tuple(map(tuple, arr)) if arr.ndim == 2 else tuple(arr.tolist())


@dataclass(frozen=True)
class Config:
    """Hyper-parameters and initial state of one run (chapter *The scenario*).

    Numbers are O(1) as N → ∞ (time α counts tasks per input dimension). Explicit initial
    overlaps ``Q0`` (K×K), ``R0`` (K×M) and ``a0`` (K,) are stored as nested tuples so that the
    object stays hashable; read them with :attr:`Q0_array` etc. Without ``Q0``/``R0`` the
    initial body is random with entries N(0, ``init_scale``²).
    """

    K: int = 2
    M: int = 2
    N: int = 1000
    eta: float = 1.0
    eta_in: float = 1.0
    eta_head: float = 1.0
    inner_steps: int = 1
    support: int | str = "inf"
    query_batch: int = 1
    first_order: bool = False
    v_mean: float | tuple[float, ...] = 1.0
    v_std: float = 0.5
    teacher_spread: float = 0.0
    label_noise: float = 0.0
    teacher: str = "orthogonal"
    alpha_max: float = 100.0
    record_every: float = 1.0
    seed: int = 0
    init_scale: float = 0.1
    Q0: tuple | None = field(default=None, repr=False)
    R0: tuple | None = field(default=None, repr=False)
    a0: tuple | None = field(default=None, repr=False)
    dt: float = 0.05
    dtype: str = "float64"

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        for key in ("K", "M", "N", "inner_steps", "query_batch", "seed"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise ConfigError(f"{key} must be an integer ({KEY_HELP[key]}), got {value!r}")
            set_(key, int(value))
        for key, low in (("K", 1), ("M", 1), ("N", 1), ("inner_steps", 0), ("query_batch", 1),
                         ("seed", 0)):
            if getattr(self, key) < low:
                raise ConfigError(f"{key} = {getattr(self, key)} is out of range: {KEY_HELP[key]}")
        for key in ("eta", "eta_in", "eta_head", "v_std", "label_noise", "teacher_spread",
                    "alpha_max", "record_every", "init_scale", "dt"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ConfigError(f"{key} must be a number ({KEY_HELP[key]}), got {value!r}")
            value = float(value)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{key} = {value} is out of range: {KEY_HELP[key]}")
            set_(key, value)
        for key in ("alpha_max", "record_every", "init_scale", "dt"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key} = {getattr(self, key)} is out of range: {KEY_HELP[key]}")
        if not self.teacher_spread < 1:
            raise ConfigError(f"teacher_spread = {self.teacher_spread} is out of range: "
                              f"{KEY_HELP['teacher_spread']}")
        if self.record_every > self.alpha_max:
            raise ConfigError(f"record_every = {self.record_every} exceeds alpha_max = "
                              f"{self.alpha_max}: {KEY_HELP['record_every']}")
        if self.M > self.N:
            raise ConfigError(f"M = {self.M} exceeds N = {self.N}: {KEY_HELP['N']}")
        if not isinstance(self.first_order, (bool, np.bool_)):
            raise ConfigError(f"first_order must be true or false, got {self.first_order!r}")
        set_("first_order", bool(self.first_order))
        self._check_support()
        self._check_choice("teacher", ("orthogonal", "gaussian"))
        self._check_choice("dtype", ("float64", "float32"))
        self._check_v_mean()
        self._check_initial_state()

    # -- validation helpers -------------------------------------------------------------
    def _check_choice(self, key: str, allowed: tuple[str, ...]) -> None:
        if getattr(self, key) not in allowed:
            raise ConfigError(f"{key} = {getattr(self, key)!r} is not allowed: {KEY_HELP[key]}")

    def _check_support(self) -> None:
        support = self.support
        if isinstance(support, str):
            if support.strip().lower() in ("inf", "infinity"):
                object.__setattr__(self, "support", "inf")
                return
            try:
                support = int(support)
            except ValueError:
                raise ConfigError(f"support = {self.support!r}: {KEY_HELP['support']}") from None
        if isinstance(support, float) and math.isinf(support) and support > 0:
            object.__setattr__(self, "support", "inf")
            return
        if isinstance(support, bool) or not float(support).is_integer() or support < 1:
            raise ConfigError(f"support = {self.support!r} is out of range: {KEY_HELP['support']}")
        object.__setattr__(self, "support", int(support))

    def _check_v_mean(self) -> None:
        arr = _numbers(self.v_mean, "v_mean") if not isinstance(self.v_mean, bool) else None
        if arr is None or arr.ndim > 1 or not np.all(np.isfinite(arr)):
            raise ConfigError(f"v_mean = {self.v_mean!r}: {KEY_HELP['v_mean']}")
        if arr.ndim == 1 and arr.shape != (self.M,):
            raise ConfigError(f"v_mean has {arr.size} entries but M = {self.M}: "
                              f"{KEY_HELP['v_mean']}")
        object.__setattr__(self, "v_mean", float(arr) if arr.ndim == 0 else tuple(arr.tolist()))

    def _check_initial_state(self) -> None:
        K, M = self.K, self.M
        object.__setattr__(self, "Q0", _matrix(self.Q0, (K, K), "Q0"))
        object.__setattr__(self, "R0", _matrix(self.R0, (K, M), "R0"))
        object.__setattr__(self, "a0", _matrix(self.a0, (K,), "a0"))
        if (self.Q0 is None) != (self.R0 is None):
            raise ConfigError("Q0 and R0 must be given together (explicit initial overlaps)")
        if self.Q0 is None:
            return
        Q = self.Q0_array
        if not np.allclose(Q, Q.T, atol=1e-12):
            raise ConfigError(f"Q0 must be symmetric: {KEY_HELP['Q0']}")
        if np.linalg.eigvalsh(Q).min() <= 0:
            raise ConfigError(f"Q0 is not positive definite (smallest eigenvalue "
                              f"{np.linalg.eigvalsh(Q).min():.3g}): {KEY_HELP['Q0']}")
        if self.teacher == "orthogonal":
            # W = R0 B/N + Z with Z ⟂ B needs Q0 − R0 R0ᵀ ⪰ 0 (T = I); strictly > 0 if K ≤ N − M.
            gap = np.linalg.eigvalsh(Q - self.R0_array @ self.R0_array.T).min()
            if gap < -1e-12:
                raise ConfigError(
                    f"Q0, R0 are not realisable: Q0 − R0 R0ᵀ has eigenvalue {gap:.3g} < 0 "
                    "(a body W with these overlaps would need |W_k| below its projection "
                    "on the teacher subspace)")

    # -- derived quantities ---------------------------------------------------------------
    @property
    def v_bar(self) -> np.ndarray:
        """Mean task readout v̄, shape (M,)."""
        return np.broadcast_to(np.asarray(self.v_mean, dtype=float), (self.M,)).copy()

    @property
    def P(self) -> int | None:
        """Support size, or None for the population inner loop (``support = "inf"``)."""
        return None if self.support == "inf" else int(self.support)

    @property
    def n_steps(self) -> int:
        """Number of meta-training steps (tasks) of a simulation, round(alpha_max · N)."""
        return int(round(self.alpha_max * self.N))

    @property
    def record_alphas(self) -> np.ndarray:
        """Recorded times 0, record_every, 2·record_every, …, alpha_max (alpha_max included)."""
        n = int(math.floor(self.alpha_max / self.record_every + 1e-9))
        alphas = self.record_every * np.arange(n + 1)
        if alphas[-1] < self.alpha_max * (1 - 1e-12):
            alphas = np.append(alphas, self.alpha_max)
        return alphas

    @property
    def Q0_array(self) -> np.ndarray | None:
        return None if self.Q0 is None else np.array(self.Q0, dtype=float)

    @property
    def R0_array(self) -> np.ndarray | None:
        return None if self.R0 is None else np.array(self.R0, dtype=float)

    @property
    def a0_array(self) -> np.ndarray:
        """Initial head, shape (K,): ``a0`` or zeros."""
        return np.zeros(self.K) if self.a0 is None else np.array(self.a0, dtype=float)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        """Build from a mapping; unknown keys raise :class:`ConfigError` listing valid ones
        (and the closest valid key for a misspelling)."""
        unknown = sorted(set(values) - set(KEY_HELP))
        if unknown:
            close = {k: difflib.get_close_matches(k, KEY_HELP, n=1) for k in unknown}
            hint = "".join(f" (did you mean {m[0]} for {k}?)" for k, m in close.items() if m)
            raise ConfigError(f"unknown configuration key(s) {unknown}{hint}; valid keys: "
                              f"{', '.join(KEY_HELP)}")
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path, overrides: list[str] = ()) -> "Config":
        """Read a TOML file of ``key = value`` lines (:func:`file_values`: a ``[run]`` table is
        provenance and ignored), with command-line ``key=value`` overrides
        (:func:`parse_overrides`) applied to the file's values before they are validated, so
        that an override can repair an invalid file."""
        return cls.from_dict({**file_values(path), **parse_overrides(overrides)})

    def replace(self, **changes: Any) -> "Config":
        """A validated copy with some keys changed."""
        return type(self).from_dict({**self.to_dict(), **changes})

    def with_overrides(self, assignments: list[str]) -> "Config":
        """Apply command-line style ``key=value`` strings (:func:`parse_overrides`)."""
        return self.replace(**parse_overrides(assignments))

    def to_dict(self) -> dict[str, Any]:
        """All keys, with explicit initial arrays as nested lists (None when unset)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key in ("Q0", "R0", "a0", "v_mean"):
            if isinstance(out[key], tuple):
                out[key] = np.asarray(out[key]).tolist()
        return out

    def to_toml(self, run: dict[str, Any] | None = None) -> str:
        """The configuration as TOML text (unset initial arrays omitted); round-trips.

        ``run``: provenance (strings, numbers, booleans and lists of them), written after the
        keys as the ``[run]`` table, which :meth:`from_toml` ignores.
        """
        lines = [f"{key} = {_toml_value(value)}" for key, value in self.to_dict().items()
                 if value is not None]
        if run:
            lines += ["", f"[{RUN_TABLE}]"] + [f"{k} = {_toml_value(v)}" for k, v in run.items()]
        return "\n".join(lines) + "\n"


#: Name of the TOML table holding the provenance of a run (command, seeds, versions); it is
#: written beside the command line's tables and is not a configuration key.
RUN_TABLE = "run"


def read_toml(path: str | Path) -> dict[str, Any]:
    """The values of a TOML configuration file, ``[run]`` table included.

    Raises :class:`ConfigError` with a one-line message naming the file: it does not exist,
    is a folder or unreadable, is not UTF-8 text, or is not valid TOML (with the line and
    column of the first error, e.g. a duplicate key or a missing value).
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"configuration file {str(path)!r} is a folder, not a TOML "
                          "file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a text (UTF-8) file ({err.reason} at byte "
                          f"{err.start})") from None
    except OSError as err:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: "
                          f"{err.strerror or err}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        hint = ""
        if path.suffix.lower() in (".csv", ".npz"):
            hint = (f" ({path.name} looks like a table: a configuration is TOML "
                    "`key = value` lines, such as the .config.toml written beside a table)")
        raise ConfigError(f"{path}: invalid TOML: {err}{hint}") from None


def file_values(path: str | Path) -> dict[str, Any]:
    """The configuration values of a TOML file (:func:`read_toml` without its ``[run]``
    provenance table), not yet validated."""
    values = read_toml(path)
    values.pop(RUN_TABLE, None)
    return values


def parse_overrides(assignments: list[str]) -> dict[str, Any]:
    """Command-line ``key=value`` strings as a mapping; each value is parsed as TOML
    (numbers, booleans, lists, quoted strings), and kept as text when it is not valid TOML
    (bare words such as ``gaussian`` or ``inf``). Raises :class:`ConfigError` for an item
    without ``=`` or without a key; the keys are checked when the Config is built."""
    changes: dict[str, Any] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        try:
            changes[key] = tomllib.loads(f"x = {text.strip()}")["x"]
        except tomllib.TOMLDecodeError:
            changes[key] = text.strip()
    return changes


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)   # a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)
