"""Test-session set-up shared by all tests.

* Figures are drawn with the non-interactive Agg backend in the pytest process (chapters
  executed by nbval run in their own kernels and keep Jupyter's inline backend, as in the
  book; no chapter selects a backend itself).
* ``tests/browser/`` is collected only with ``--browser`` (``make browser-test``).
* ``--update-fingerprints`` rewrites ``tests/fingerprints.json`` (used by ``make baselines``).
* Notebook cells collected by nbval are kept together on one xdist worker, in order
  (``-n 2``), while unit tests are balanced freely.
* With ``--nbval-lax``, every converted notebook must be a current chapter, converted from
  its current source, so that a stale conversion can never pass for the book.
"""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")


def pytest_addoption(parser):
    parser.addoption("--update-fingerprints", action="store_true", default=False,
                     help="rewrite tests/fingerprints.json from the current figures")
    parser.addoption("--browser", action="store_true", default=False,
                     help="run the browser test of the built book (tests/browser/)")


def pytest_ignore_collect(collection_path, config):
    # The browser test needs the built book, chromium and Playwright: `make browser-test`.
    if collection_path.name == "browser" and collection_path.parent.name == "tests":
        return not config.getoption("--browser")
    return None


def pytest_xdist_make_scheduler(config, log):
    """With ``-n N`` (default ``--dist load``): every test is its own unit of work, except
    that the cells of one notebook form a single unit, run in order on one worker (they
    share that notebook's kernel). xdist's own ``loadgroup`` cannot do this with pytest 9.2,
    whose node ids no longer take the group suffix xdist 3.8 writes."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.endswith(".ipynb") else nodeid

    return NotebookScheduling(config, log)


def pytest_collection_finish(session):
    config = session.config
    if not (config.getoption("nbval_lax", False) or config.getoption("nbval", False)):
        return
    from nbval.plugin import IPyNbFile

    import chapters

    collected = {item.parent.path: item.parent for item in session.items
                 if isinstance(item.parent, IPyNbFile)}
    if not collected:
        return
    by_name = {path.stem: path for path in collected}
    expected = {chapters.Path(page).name: page for page in chapters.notebook_pages()}
    extra = sorted(set(by_name) - set(expected))
    stale = [name for name, page in expected.items() if name in by_name
             and _code(chapters.nbformat.read(by_name[name], as_version=4))
             != _code(chapters.converted(page))]
    if extra or stale:
        raise pytest.UsageError(
            "the converted notebooks do not match the chapters of _toc.yml "
            f"(not a chapter: {extra}, outdated: {stale}); "
            "convert them again with `make test` (or `python tests/chapters.py convert DIR`)")


def _code(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]
