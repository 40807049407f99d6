r"""Persistent compilation caches, shared by the command line, the tests and the book.

A JAX process pays for tracing, lowering and XLA compilation before it computes anything:
seconds per process for the simulator, more than a short run itself. metarep keeps two caches
in one folder per user, software and machine, so that this is paid once per machine:

* **JAX's persistent compilation cache** (``xla/``): every XLA executable the process compiles
  (JAX keys it on the lowered program, jaxlib, the XLA flags and the devices); it skips XLA
  compilation, not tracing and lowering.
* **metarep's executables** (``executables/``): the few compiled entry points of the simulator
  (:func:`persistent_jit`), stored whole, so that a warm process skips tracing and lowering
  too. Their key is everything the compiled program can depend on: the source of metarep,
  the versions of Python, jax, jaxlib and numpy, JAX's configuration, the devices, the XLA
  flags, the CPU, the function, its static arguments and the shapes, dtypes and shardings of
  its arguments.

The folder is ``$METAREP_CACHE_DIR`` if set, else the platform's user cache folder
(``~/.cache/metarep`` on Linux, ``~/Library/Caches/metarep`` on macOS,
``%LOCALAPPDATA%\metarep\Cache`` on Windows), then one subfolder per software and machine,
``jax-<version>-jaxlib-<version>-<machine>-<digest>``, where the digest covers the CPU model,
the CPU's feature flags and ``XLA_FLAGS``: another jax, another CPU (an executable compiled
for AVX-512 dies with an illegal instruction elsewhere) or other XLA flags never reuse an
entry. ``METAREP_CACHE=off`` turns both caches off. The settings apply to the whole process,
your own jitted functions included, unless you configured JAX's cache yourself
(``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``), which metarep then leaves alone.

A folder that cannot be written (read-only, a file in the way, no space) gives one warning and
the process runs without a persistent cache. metarep's executables are kept for the three
most recently used versions of its source; JAX's cache is not evicted:
``python -m metarep cache`` prints the folder and its size, ``--clear`` empties it.

XLA:CPU logs a false "machine type doesn't match" error for every executable it loads from a
cache on CPUs with AVX-512 (the tuning flags ``+prefer-no-gather``/``+prefer-no-scatter``
are compared as if they were instruction sets; jax-ml/jax#38445): entries are still loaded
and run. Because the folder is keyed on the CPU's flags, that message can never be a real
mismatch here, so metarep silences XLA's C++ log below FATAL (``TF_CPP_MIN_LOG_LEVEL=3``)
when it imports jax itself with the cache on; set ``TF_CPP_MIN_LOG_LEVEL`` to keep the log.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import pickle
import platform
import sys
import tempfile
import threading
import warnings
import weakref
from pathlib import Path

#: Environment variables: the cache root, and the switch (off, 0, false, no).
ENV_DIR = "METAREP_CACHE_DIR"
ENV_SWITCH = "METAREP_CACHE"
_OFF = {"off", "0", "false", "no"}


def enabled_by_environment() -> bool:
    """False if ``METAREP_CACHE`` turns the caches off."""
    return os.environ.get(ENV_SWITCH, "on").strip().lower() not in _OFF


def cpu_description() -> str:
    """The CPU model and its feature flags (``/proc/cpuinfo`` on Linux, ``platform``
    elsewhere): what decides whether an executable compiled here runs there."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break                       # the first processor is enough
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("vendor_id", "model name", "cpu family", "model", "flags",
                           "features", "cpu implementer", "cpu part", "isa"):
                    fields[key] = " ".join(value.split())
    except OSError:
        pass
    if not fields:
        fields = {"processor": platform.processor(), "platform": platform.platform()}
    return "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", errors="replace"))
        h.update(b"\0")
    return h.hexdigest()


def root() -> Path:
    """The cache root: ``$METAREP_CACHE_DIR`` or the user cache folder of the platform."""
    env = os.environ.get(ENV_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("metarep", appauthor=False))


def folder() -> Path:
    """This software's and machine's subfolder of :func:`root` (see the module docstring)."""
    import jax
    import jaxlib

    tag = _digest(cpu_description(), os.environ.get("XLA_FLAGS", ""))[:16]
    return root() / (f"jax-{jax.__version__}-jaxlib-{jaxlib.__version__}-"
                     f"{platform.machine() or 'unknown'}-{tag}")


class _State:
    """What :func:`enable` decided, and counters for :func:`stats`."""

    folder: Path | None = None
    xla_dir: Path | None = None
    warned = False
    pruned = False
    counts = {"jax_hits": 0, "jax_misses": 0, "loaded": 0, "written": 0, "compiled": 0}
    local = threading.local()           # per thread: did JAX's cache serve the compile?
    lock = threading.Lock()


def _usable(path: Path) -> str | None:
    """None if ``path`` is a folder we can create and write into, else the reason."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as err:
        return f"{type(err).__name__}: {err}"
    return None


def _warn_once(message: str) -> None:
    if not _State.warned:
        _State.warned = True
        warnings.warn(f"metarep: {message}", RuntimeWarning, stacklevel=3)


def _on_event(event: str, **_kwargs) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _State.counts["jax_hits"] += 1
        _State.local.jax_hit = True
    elif event == "/jax/compilation_cache/cache_misses":
        _State.counts["jax_misses"] += 1


def enable() -> Path | None:
    """Turn the caches on for this process (called once by ``import metarep``).

    Returns the folder in use, or None (cache off, or folder unusable: one warning). Must run
    before the first compilation to reach JAX's cache (JAX reads its setting once).
    """
    if _State.folder is not None or not enabled_by_environment():
        return _State.folder
    import jax

    path = folder()
    reason = _usable(path)
    if reason is not None:
        _warn_once(f"the compilation cache folder {path} is not usable ({reason}); running "
                   f"without a persistent cache (set {ENV_DIR} to a writable folder, or "
                   f"{ENV_SWITCH}=off)")
        return None
    _State.folder = path
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR") \
            and jax.config.values["jax_compilation_cache_dir"] is None:
        _State.xla_dir = path / "xla"
        jax.config.update("jax_compilation_cache_dir", str(_State.xla_dir))
        if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.monitoring.register_event_listener(_on_event)
    return path


def stats() -> dict:
    """Cache use of this process: the folder, JAX cache hits and misses, executables
    loaded, written and compiled by :func:`persistent_jit` functions."""
    return {"folder": None if _State.folder is None else str(_State.folder), **_State.counts}


def size(path: Path | None = None) -> tuple[int, int]:
    """(number of files, bytes) under ``path`` (default: :func:`root`)."""
    path = root() if path is None else path
    n = total = 0
    for p in path.rglob("*") if path.is_dir() else ():
        if p.is_file():
            n += 1
            total += p.stat().st_size
    return n, total


# ---------------------------------------------------------------------------------------
# Whole executables of a few entry points
# ---------------------------------------------------------------------------------------
_CONFIG_IGNORED = ("jax_compilation_cache", "jax_persistent_cache", "jax_log", "jax_explain",
                   "jax_dump", "jax_raise_persistent_cache_errors", "jax_debug_log_modules")
_context: str | None = None
#: Compilations tried for the store when JAX's cache already holds the program.
_ATTEMPTS = 4


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 of the source of the metarep package (every ``.py`` file, path and text)."""
    pkg = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(pkg.rglob("*.py")):
        h.update(str(p.relative_to(pkg)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _global_context() -> str:
    """Everything outside a call that a compiled program depends on (computed once)."""
    global _context
    if _context is None:
        import jax
        import jaxlib
        import numpy as np

        config = sorted((k, repr(v)) for k, v in jax.config.values.items()
                        if not k.startswith(_CONFIG_IGNORED))
        devices = [(d.platform, d.device_kind, d.id, d.process_index) for d in jax.devices()]
        _context = _digest(source_digest(), sys.version, jax.__version__, jaxlib.__version__,
                           np.__version__, repr(config), repr(devices),
                           jax.devices()[0].client.platform_version,
                           os.environ.get("XLA_FLAGS", ""), cpu_description())
    return _context


def _leaf_signature(x) -> tuple:
    import jax

    aval = jax.typeof(x)
    sharding = getattr(x, "sharding", None)
    if sharding is not None:       # its layout and the devices it is on
        sharding = (str(sharding), tuple(sorted(d.id for d in sharding.device_set)))
    return (aval.shape, str(aval.dtype), bool(getattr(aval, "weak_type", False)), sharding)


class _PersistentJit:
    """``jax.jit(fun, static_argnames=...)`` whose compiled executables persist on disk."""

    def __init__(self, fun, static_argnames: tuple[str, ...]):
        import jax

        self._fun = fun
        self._jit = jax.jit(fun, static_argnames=static_argnames)
        self._sig = inspect.signature(fun)
        self._static = tuple(static_argnames)
        self._params = list(self._sig.parameters)
        self._memory: dict = {}
        _INSTANCES.add(self)
        self.__wrapped__ = fun
        self.__doc__ = fun.__doc__
        self.__name__ = getattr(fun, "__name__", "persistent_jit")
        self.__module__ = fun.__module__
        self.__qualname__ = getattr(fun, "__qualname__", self.__name__)

    def lower(self, *args, **kwargs):
        return self._jit.lower(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        import jax

        bound = self._sig.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        statics = tuple((k, values[k]) for k in self._static)
        dynamic = [values[p] for p in self._params if p not in self._static]
        leaves, tree = jax.tree_util.tree_flatten(dynamic)
        key = (statics, tuple(_leaf_signature(x) for x in leaves), str(tree))
        compiled = self._memory.get(key)
        if compiled is None:
            compiled = self._compiled(key, [values[p] for p in self._params])
            self._memory[key] = compiled
        return compiled(*dynamic)

    def _compiled(self, key, ordered):
        if _State.folder is None:
            return self._jit.lower(*ordered).compile()
        name = f"{self.__module__}.{self.__qualname__}"
        digest = _digest(_global_context(), name, repr(key))
        path = _executables() / f"{self.__name__}-{digest[:40]}.pkl"
        compiled = _load(path)
        if compiled is not None:
            _State.counts["loaded"] += 1
            return compiled
        # An executable that JAX's cache deserialized cannot be serialized again (XLA:CPU
        # loses its kernels: "Function ... not found" when run), so the program compiled for
        # the store is named after its key, and JAX's cache cannot hold it yet: the
        # compilation is fresh. If it does hold it (the store's file was deleted or damaged,
        # or a process stopped between the two writes), the name changes and it compiles
        # again, a few times at most.
        for attempt in range(_ATTEMPTS):
            salt = digest[:12] + (f"r{attempt}" if attempt else "")
            _State.local.jax_hit = False
            compiled = _salted(self._fun, self._static, salt).lower(*ordered).compile()
            _State.counts["compiled"] += 1
            if not _State.local.jax_hit:
                _store(path, compiled)
                break
        return compiled


#: Versions of metarep's source whose executables are kept (the most recently used).
_KEEP_SOURCES = 3


def _executables() -> Path:
    """``executables/<source digest>/`` of this version of metarep; once per process, the
    folders of all but the :data:`_KEEP_SOURCES` most recently used versions are removed
    (every edit of the library starts a new one)."""
    import shutil

    base = _State.folder / "executables"
    path = base / source_digest()[:16]
    if not _State.pruned:
        _State.pruned = True
        try:
            path.mkdir(parents=True, exist_ok=True)
            os.utime(path)
            others = sorted((p for p in base.iterdir() if p.is_dir() and p != path),
                            key=lambda p: p.stat().st_mtime, reverse=True)
            for old in others[_KEEP_SOURCES - 1:]:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return path


def _salted(fun, static_argnames, salt: str):
    """``jax.jit`` of ``fun`` under the name ``<name>_<salt>`` (same signature)."""
    import jax

    @functools.wraps(fun)
    def program(*args, **kwargs):
        return fun(*args, **kwargs)

    program.__name__ = f"{fun.__name__}_{salt}"
    return jax.jit(program, static_argnames=static_argnames)


def _prepare_runtime() -> bool:
    """Initialise what lowering would have initialised: XLA:CPU's LAPACK kernels get their
    function pointers when a LAPACK call (eigh, ...) is first lowered, so an executable that
    was loaded, not lowered, would call null pointers (a segmentation fault). ``jax.export``
    does the same before running deserialized programs. It imports SciPy's LAPACK (≈ 0.3 s),
    so it runs only for executables that call LAPACK. False if this jax lacks the hook (the
    entry is then compiled instead)."""
    try:
        from jax._src.lax import linalg

        linalg.initialize_lapack()
    except Exception:
        return False
    return True


def _load(path: Path):
    import jax
    from jax.experimental import serialize_executable

    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            payload, in_tree, out_tree, needs_lapack, device_ids = pickle.load(fh)
        if needs_lapack and not _prepare_runtime():
            return None
        by_id = {d.id: d for d in jax.devices()}
        return serialize_executable.deserialize_and_load(
            payload, in_tree, out_tree, execution_devices=[by_id[i] for i in device_ids])
    except FileNotFoundError:
        return None
    except Exception:              # a damaged or foreign entry: compile again, replace it
        return None


def _store(path: Path, compiled) -> None:
    from jax.experimental import serialize_executable

    try:
        needs_lapack = "lapack_" in compiled.as_text()
        # the devices it was compiled for, in order (loading defaults to all devices)
        device_ids = [d.id for d in compiled.runtime_executable().local_devices()]
        blob = pickle.dumps((*serialize_executable.serialize(compiled), needs_lapack,
                             device_ids))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as fh:
            fh.write(blob)
        os.replace(fh.name, path)                # atomic: readers see all or nothing
        _State.counts["written"] += 1
    except Exception as err:                     # full disk, unserializable program, ...
        _warn_once(f"could not store a compiled executable in {path.parent} "
                   f"({type(err).__name__}: {err}); it is compiled again in each process")


#: Every :func:`persistent_jit` function (for :func:`release`).
_INSTANCES: "weakref.WeakSet[_PersistentJit]" = weakref.WeakSet()


def release() -> None:
    """Drop every executable this process holds: JAX's in-memory caches
    (``jax.clear_caches``) and those of the :func:`persistent_jit` functions. Each loaded XLA:CPU
    executable keeps memory mappings, and a process that loads thousands of them reaches the
    kernel's limit (``vm.max_map_count``, 65 530 by default) and crashes inside XLA; a long
    session (the test suite's workers) calls this between groups of work. The persistent
    caches on disk are kept: what is needed again is loaded, not recompiled."""
    import gc

    import jax

    for f in list(_INSTANCES):
        f._memory.clear()
    jax.clear_caches()
    gc.collect()


def persistent_jit(fun=None, *, static_argnames: tuple[str, ...] | str = ()):
    """Decorator: like ``jax.jit(fun, static_argnames=...)``, and the compiled executable of
    each distinct call signature is stored in the cache folder and loaded by later processes
    (no tracing, lowering or compilation). Without a usable cache folder it is plain
    ``jax.jit`` (compiled once per process). Static arguments must be hashable and have a
    deterministic ``repr`` (they are part of the key)."""
    if isinstance(static_argnames, str):
        static_argnames = (static_argnames,)
    if fun is None:
        return lambda f: _PersistentJit(f, tuple(static_argnames))
    return _PersistentJit(fun, tuple(static_argnames))


__all__ = ["ENV_DIR", "ENV_SWITCH", "enabled_by_environment", "cpu_description", "root",
           "folder", "enable", "stats", "size", "source_digest", "release", "persistent_jit"]
