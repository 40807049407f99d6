"""The book's chapters, each executed once: an execution cache shared by the tests and the book.

The chapters (``_toc.yml``) are MyST notebooks. Executing one takes seconds to a minute,
and both ``make test`` (``tests/test_chapters.py``) and ``make book`` need every chapter
executed. Both go through :func:`ensure`: a chapter is executed at most once for a given

* chapter source (its code cells and their metadata, and the kernel: jupyter-cache's hash of
  the notebook as myst-nb reads it),
* library and environment: the source of ``lib/``, ``requirements*.txt``, ``pyproject.toml``
  and ``examples/``, the Python version, the platform, the CPU model and feature flags, the
  XLA and JAX platform settings and the version of every installed distribution
  (:func:`key`),

and its executed notebook is kept in a jupyter-cache (``_build/.jupyter_cache/metarep-<key>``,
the three most recent keys are kept). A change of any of these gives another key or
another notebook hash, so a stale result cannot be reused: the execution cache of myst-nb
alone keys on cell sources only. Only successful executions are stored, so a chapter whose
hidden ``assert`` cell fails is executed again (and fails again) by every ``make test``.

The book build uses the same cache: the Sphinx hook :func:`setup` (a local extension in
``_config.yml``) points myst-nb's cache (``execute_notebooks: cache``) at the keyed folder
and, before any page is read, executes the chapters missing from it (two at a time), so that
myst-nb only reads executed notebooks. Files a chapter writes for download
(``_build/downloads/<chapter>/``, :mod:`metarep.downloads`) are stored with its execution
and put back when the execution is reused. With ``METAREP_BOOK_REUSE_ONLY=1`` (``.ci/run``,
after ``make test``) the book build fails instead of executing a chapter, and it warns if
myst-nb executed a chapter itself: each chapter runs once per CI run.

Command line::

    python _ext/chapters.py run [-j 2] [PAGE ...]    # execute what is missing, report
    python _ext/chapters.py key                       # the key and the cache folder
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import yaml

ROOT = Path(__file__).resolve().parents[1]
TOC = ROOT / "_toc.yml"
CONFIG = ROOT / "_config.yml"
CACHE_ROOT = ROOT / "_build" / ".jupyter_cache"
DOWNLOADS = ROOT / "_build" / "downloads"
#: Files and folders of the repository whose content is part of the key.
KEYED = ("lib", "examples", "requirements.txt", "requirements-browser.txt",
         "requirements-lab.txt", "pyproject.toml")
#: Changes when the layout of the cache changes.
FORMAT = "1"
#: Cache folders (keys) kept besides the current one.
KEEP = 2
#: Environment variable: the book build must not execute any chapter (CI, after make test).
REUSE_ONLY = "METAREP_BOOK_REUSE_ONLY"


# ---------------------------------------------------------------------------------------
# The table of contents
# ---------------------------------------------------------------------------------------
def _entries(node) -> list[str]:
    """``file:`` entries of a TOC subtree, in reading order."""
    out = []
    if isinstance(node, dict):
        if "file" in node:
            out.append(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []):
                out += _entries(child)
    return out


def toc_pages() -> list[str]:
    """Every page of the book in reading order, as paths relative to the root without
    suffix (``book/intro``), root page first."""
    toc = yaml.safe_load(TOC.read_text())
    return [toc["root"], *_entries(toc)]


def page_source(page: str) -> Path:
    """The source file of a TOC page (``.md`` or ``.ipynb``)."""
    for suffix in (".md", ".ipynb"):
        path = ROOT / f"{page}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"_toc.yml lists {page!r} but neither {page}.md nor "
                            f"{page}.ipynb exists")


def read(source: Path):
    """The notebook of a chapter exactly as myst-nb reads it in the book build (same reader,
    same MyST settings from ``_config.yml``), without outputs."""
    import nbformat

    if source.suffix == ".ipynb":
        return nbformat.read(source, as_version=4)
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    parse = yaml.safe_load(CONFIG.read_text()).get("parse", {})
    config = MdParserConfig(
        enable_extensions=set(parse.get("myst_enable_extensions", [])),
        dmath_double_inline=parse.get("myst_dmath_double_inline", False))
    return read_myst_markdown_notebook(source.read_text(), config=config,
                                       add_source_map=True, path=str(source))


def is_notebook(source: Path) -> bool:
    """A page is executed (and tested) iff it is a notebook with a kernel."""
    return source.suffix == ".ipynb" or "kernelspec" in read(source).metadata


def notebook_pages() -> list[str]:
    """The TOC pages that are executed as notebooks."""
    return [p for p in toc_pages() if is_notebook(page_source(p))]


# ---------------------------------------------------------------------------------------
# The key
# ---------------------------------------------------------------------------------------
def _files(root: Path):
    for name in KEYED:
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file()
                              and "__pycache__" not in p.parts and p.suffix != ".pyc"
                              and not any(part.endswith(".egg-info") for part in p.parts))


def key(root: Path = ROOT) -> str:
    """sha256 of everything besides a chapter's own source that its outputs depend on."""
    h = hashlib.sha256()

    def add(*parts: str | bytes) -> None:
        for part in parts:
            h.update(part if isinstance(part, bytes) else part.encode())
            h.update(b"\0")

    add(FORMAT)
    for path in _files(root):
        add(str(path.relative_to(root)), path.read_bytes())
    from metarep.compile_cache import cpu_description

    add(sys.version, platform.platform(), cpu_description())
    for var in ("XLA_FLAGS", "JAX_PLATFORMS", "JAX_ENABLE_X64", "CUDA_VISIBLE_DEVICES"):
        add(var, os.environ.get(var, ""))
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    add(*dists)
    return h.hexdigest()


def cache_folder(k: str | None = None) -> Path:
    """The jupyter-cache of this key (created; older keys beyond :data:`KEEP` removed)."""
    k = key() if k is None else k
    path = CACHE_ROOT / f"metarep-{k[:16]}"
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        others = sorted((p for p in CACHE_ROOT.glob("metarep-*") if p != path),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)
    return path


@contextlib.contextmanager
def _locked(folder: Path):
    """Exclusive use of a cache folder across processes and threads (its SQLite database)."""
    try:
        import fcntl
    except ImportError:                          # no flock: one process at a time assumed
        yield
        return
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------
# Executing a chapter once
# ---------------------------------------------------------------------------------------
class Outcome(NamedTuple):
    """What :func:`ensure` did: ``cached`` (reused) or executed now; the execution time in
    seconds (of the stored execution when reused); the traceback if it failed."""

    source: Path
    cached: bool
    seconds: float
    error: str | None


def _execution_settings() -> tuple[int, bool]:
    execute = yaml.safe_load(CONFIG.read_text()).get("execute", {})
    return int(execute.get("timeout", 600)), bool(execute.get("allow_errors", False))


def _downloads(folder: Path, hashkey: str) -> Path:
    return folder / "downloads" / hashkey


def _match(cache, nb):
    try:
        return cache.match_cache_notebook(nb)
    except KeyError:
        return None


def cached(source: Path, folder: Path) -> bool:
    """Whether the cache ``folder`` holds a successful execution of ``source`` as it is."""
    from jupyter_cache import get_cache

    with _locked(folder):
        record = _match(get_cache(folder), read(source))
        return record is not None and (_downloads(folder, record.hashkey) / ".complete").exists()


def ensure(source: Path, folder: Path | None = None, downloads: Path = DOWNLOADS) -> Outcome:
    """Make sure the chapter ``source`` has a successful execution in the cache ``folder``
    (default :func:`cache_folder`): reuse it, restoring the chapter's download folder
    ``downloads/<name>``, or execute the chapter (in its own folder, like the book build)
    and store it with that folder. Returns the :class:`Outcome`; a failed execution stores
    nothing."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    folder = cache_folder() if folder is None else folder
    nb = read(source)
    own = downloads / source.stem
    with _locked(folder):
        cache = get_cache(folder)
        record = _match(cache, nb)
        if record is not None and (_downloads(folder, record.hashkey) / ".complete").exists():
            shutil.rmtree(own, ignore_errors=True)
            saved = _downloads(folder, record.hashkey) / source.stem
            if saved.is_dir():
                shutil.copytree(saved, own)
            return Outcome(source, True, float(record.data.get("execution_seconds", 0.0)),
                           None)
    shutil.rmtree(own, ignore_errors=True)      # what remains afterwards is this execution's
    timeout, allow_errors = _execution_settings()
    result = single_nb_execution(nb, cwd=str(source.parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True)
    if result.err is not None:
        return Outcome(source, False, result.time, result.exc_string)
    with _locked(folder):
        cache = get_cache(folder)
        record = cache.cache_notebook_bundle(
            CacheBundleIn(nb, str(source), data={"execution_seconds": result.time}),
            check_validity=False, overwrite=True)
        saved = _downloads(folder, record.hashkey)
        shutil.rmtree(saved, ignore_errors=True)
        saved.mkdir(parents=True)
        if own.is_dir():
            shutil.copytree(own, saved / source.stem)
        (saved / ".complete").touch()
    return Outcome(source, False, result.time, None)


def glued(source: Path, folder: Path | None = None) -> dict[str, str]:
    """{name: text/plain} of every value the stored execution of the chapter ``source``
    glues (myst-nb's ``glue``); empty when the chapter has no stored execution."""
    from jupyter_cache import get_cache

    folder = cache_folder() if folder is None else folder
    with _locked(folder):
        cache = get_cache(folder)
        record = _match(cache, read(source))
        if record is None:
            return {}
        nb = cache.get_cache_bundle(record.pk).nb
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            book = output.get("metadata", {}).get("scrapbook")
            if book:
                text = output.get("data", {}).get(book["mime_prefix"] + "text/plain")
                if text is not None:
                    out[book["name"]] = text
    return out


def ensure_all(pages: list[str] | None = None, jobs: int = 2, log=print) -> list[Outcome]:
    """:func:`ensure` every notebook page (default: all of ``_toc.yml``), ``jobs`` at a
    time (each execution runs in its own kernel process)."""
    pages = notebook_pages() if pages is None else pages
    folder = cache_folder()

    def one(page):
        t0 = time.perf_counter()
        out = ensure(page_source(page), folder)
        state = "reused" if out.cached else ("FAILED" if out.error else "executed")
        log(f"chapters: {page} {state} ({out.seconds:.1f} s executing, "
            f"{time.perf_counter() - t0:.1f} s now)")
        return out

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, pages))


# ---------------------------------------------------------------------------------------
# The book build (Sphinx local extension)
# ---------------------------------------------------------------------------------------
def _keyed_cache(app, config) -> None:
    config.nb_execution_cache_path = str(cache_folder())


def _execute_missing(app) -> None:
    from sphinx.errors import ExtensionError
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    if app.config.nb_execution_mode != "cache":
        return
    if os.environ.get(REUSE_ONLY):
        folder = cache_folder()
        missing = [p for p in notebook_pages() if not cached(page_source(p), folder)]
        if missing:
            raise ExtensionError(f"{REUSE_ONLY} is set but the execution cache {folder} "
                                 f"lacks {missing} (`make test` executes them)")
    jobs = int(os.environ.get("METAREP_BOOK_JOBS", "2"))
    pages = notebook_pages()
    outcomes = ensure_all(pages, jobs=jobs, log=logger.info)
    failed = [o for o in outcomes if o.error]
    if failed:
        raise ExtensionError("chapters failed to execute (nothing was built):\n" + "\n".join(
            f"{o.source.relative_to(ROOT)}:\n{o.error}" for o in failed))
    app.env.metarep_stored_seconds = {page: o.seconds for page, o in zip(pages, outcomes)}


def _check_reused(app, env) -> list:
    """Warn if myst-nb executed a chapter itself (its reading and :func:`read` disagree, so
    the chapter ran twice): its execution time is then not the stored one."""
    from myst_nb.sphinx_ import NbMetadataCollector
    from sphinx.util import logging

    stored = getattr(env, "metarep_stored_seconds", {})
    for docname, seconds in stored.items():
        data = NbMetadataCollector.get_exec_data(env, docname)
        if data and data.get("runtime") != seconds:
            logging.getLogger(__name__).warning(
                f"myst-nb executed {docname} although _ext/chapters.py had stored it: the "
                "two readings of the chapter differ, so it ran twice")
    return []


def setup(app):
    app.connect("config-inited", _keyed_cache)
    app.connect("builder-inited", _execute_missing)
    app.connect("env-updated", _check_reused)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="the book's execution cache")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the chapters missing from the cache")
    run.add_argument("pages", nargs="*", help="pages as in _toc.yml (default: all)")
    run.add_argument("-j", "--jobs", type=int, default=2)
    sub.add_parser("key", help="print the key and the cache folder")
    args = p.parse_args(argv)
    if args.command == "key":
        k = key()
        print(k, cache_folder(k), sep="\n")
        return 0
    outcomes = ensure_all(args.pages or None, args.jobs)
    failed = [o for o in outcomes if o.error]
    for o in failed:
        print(f"\n{o.source}:\n{o.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
