"""Every chapter of the book executes without error, its hidden ``assert`` cells included.

Each chapter runs in its own kernel, in ``book/`` like the book build, through the execution
cache of ``_ext/chapters.py``, which the book build (``make book``) reuses: a chapter is
executed once per chapter source, library source, pins and platform, and only successful
executions are stored, so a failing hidden assert fails here every time. The cache's own
rules (keys, failures, downloads) are tested in ``tests/test_chapter_cache.py``.
"""

from __future__ import annotations

import pytest

import chapters


@pytest.mark.parametrize("page", chapters.notebook_pages())
def test_chapter_executes(page):
    out = chapters.ensure(chapters.page_source(page))
    if out.error:
        pytest.fail(f"{page} failed to execute:\n{out.error}", pytrace=False)
