"""Test-session set-up shared by all tests.

* ``_ext/`` is importable (``import chapters``: the table of contents and the chapters'
  execution cache, shared with the book build).
* Figures are drawn with the non-interactive Agg backend in the pytest process (chapters
  executed by ``tests/test_chapters.py`` run in their own kernels and keep Jupyter's inline
  backend, as in the book; no chapter selects a backend itself).
* ``tests/browser/`` is collected only with ``--browser`` (``make browser-test``).
* ``--update-fingerprints`` rewrites ``tests/fingerprints.json`` (used by ``make baselines``).
* The chapters' executions (the longest items) are collected first, so that with ``-n 2``
  they start at once and the unit tests fill in around them.
* After each test module the process releases the executables it holds
  (:func:`metarep.compile_cache.release`): a worker that keeps every executable of the
  suite loaded exceeds the kernel's limit of memory mappings (``vm.max_map_count``; about
  32 000 mappings after four test modules were measured) and crashes inside XLA.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
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


@pytest.fixture(autouse=True, scope="module")
def _release_executables():
    yield
    from metarep import compile_cache

    compile_cache.release()


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.path.name != "test_chapters.py")
