"""Every chapter of the book executes without error, its hidden ``assert`` cells included.

Each chapter runs in its own kernel, in ``book/`` like the book build, through the execution
cache of ``_ext/chapters.py``, which the book build (``make book``) reuses: a chapter is
executed once per chapter source, library source, pins and platform, and only successful
executions are stored, so a failing hidden assert fails here every time. The cache's own
rules (keys, failures, downloads) are tested in ``tests/test_chapter_cache.py``.
"""

from __future__ import annotations

import ast

import pytest

import chapters


@pytest.mark.parametrize("page", chapters.notebook_pages())
def test_chapter_executes(page):
    out = chapters.ensure(chapters.page_source(page))
    if out.error:
        pytest.fail(f"{page} failed to execute:\n{out.error}", pytrace=False)
    # a glued number must be a plain Python number: myst-nb formats {glue:text}`x:.3f` from
    # the value's text, and cannot parse reprs such as NumPy 2's "np.float64(0.25)"
    bad = {name: text for name, text in chapters.glued(chapters.page_source(page)).items()
           if _not_literal(text)}
    assert not bad, f"{page} glues values that are not plain Python literals: {bad}"


def _not_literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return not text.startswith(("<", "Figure"))   # figures and objects are displayed
    return False
