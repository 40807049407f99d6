"""The chapters' execution cache (``_ext/chapters.py``) on small throw-away chapters.

A failing hidden assert is never stored (it fails every time); a successful execution is
reused, with the files the chapter wrote for download restored; a changed code cell, a
changed file of the library, the pins or the examples give a new execution; other files do
not.
"""

from __future__ import annotations

import shutil

import chapters

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter
"""

CELL = """
```{{code-cell}} ipython3
:tags: [remove-cell]
from pathlib import Path
out = Path("{downloads}") / "tiny"
out.mkdir(parents=True, exist_ok=True)
(out / "data.csv").write_text("x\\n1\\n")
assert {condition}
```
"""


def _chapter(tmp_path, condition: str):
    source = tmp_path / "tiny.md"
    source.write_text(HEADER + CELL.format(downloads=tmp_path / "downloads",
                                           condition=condition))
    return source


def test_failing_assert_is_never_stored(tmp_path):
    source = _chapter(tmp_path, "1 + 1 == 3")
    cache = tmp_path / "cache"
    cache.mkdir()
    for _ in range(2):
        out = chapters.ensure(source, cache, tmp_path / "downloads")
        assert not out.cached and "AssertionError" in out.error


def test_success_is_reused_with_its_downloads(tmp_path):
    source = _chapter(tmp_path, "1 + 1 == 2")
    cache, downloads = tmp_path / "cache", tmp_path / "downloads"
    cache.mkdir()
    first = chapters.ensure(source, cache, downloads)
    assert first.error is None and not first.cached
    shutil.rmtree(downloads)
    second = chapters.ensure(source, cache, downloads)
    assert second.cached and second.seconds == first.seconds
    assert (downloads / "tiny" / "data.csv").read_text() == "x\n1\n"
    source.write_text(source.read_text().replace("1 + 1 == 2", "2 + 2 == 4"))
    assert not chapters.ensure(source, cache, downloads).cached


def test_key_covers_library_pins_and_examples(tmp_path):
    for name in ("lib/metarep/core.py", "requirements.txt", "pyproject.toml",
                 "examples/basic.toml", "book/intro.md", "README.md"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("0")
    base = chapters.key(tmp_path)
    for name in ("lib/metarep/core.py", "requirements.txt", "pyproject.toml",
                 "examples/basic.toml"):
        path = tmp_path / name
        path.write_text("1")
        assert chapters.key(tmp_path) != base, name
        path.write_text("0")
    assert chapters.key(tmp_path) == base
    for name in ("book/intro.md", "README.md"):      # chapters are hashed by jupyter-cache
        (tmp_path / name).write_text("1")
    (tmp_path / "lib" / "metarep" / "__pycache__").mkdir()
    (tmp_path / "lib" / "metarep" / "__pycache__" / "core.pyc").write_bytes(b"x")
    assert chapters.key(tmp_path) == base


def test_glued_values_are_read_from_the_stored_execution(tmp_path):
    """:func:`chapters.glued` returns the text of every glued value of the stored execution
    (what ``{glue:text}`` formats): a Python float as its literal, a NumPy scalar as its repr
    (which test_chapters refuses), nothing before the chapter is executed."""
    source = tmp_path / "glued.md"
    source.write_text(HEADER + """
```{code-cell} ipython3
import numpy as np
from myst_nb import glue
glue("plain", 0.25, display=False)
glue("numpy", np.float64(0.25), display=False)
```
""")
    cache = tmp_path / "cache"
    cache.mkdir()
    assert chapters.glued(source, cache) == {}
    assert chapters.ensure(source, cache, tmp_path / "downloads").error is None
    g = chapters.glued(source, cache)
    assert g["plain"] == "0.25" and g["numpy"].startswith("np.float64")
