"""Structure of the book's chapters (fast; the chapters themselves are executed by
``tests/test_chapters.py``).

What is checked: the table of contents and the chapter files agree (with
``only_build_toc_files`` an unlisted chapter would silently vanish from the book); every
executed chapter is a MyST notebook with the ``python3`` kernel and at least one hidden
``assert`` cell; no chapter chooses a matplotlib backend; the notebook the tests and the book
execute (myst-nb's reader) has the same cells as the one jupytext opens in JupyterLab.
"""

from __future__ import annotations

import re

import jupytext
import pytest
import yaml

import chapters

ROOT = chapters.ROOT
PAGES = chapters.toc_pages()
NOTEBOOKS = chapters.notebook_pages()


def test_toc_lists_every_chapter_once():
    assert len(PAGES) == len(set(PAGES)), f"_toc.yml lists a page twice: {PAGES}"
    on_disk = {str(p.relative_to(ROOT).with_suffix(""))
               for p in (ROOT / "book").rglob("*") if p.suffix in (".md", ".ipynb")
               and ".ipynb_checkpoints" not in p.parts}
    assert on_disk - set(PAGES) == set(), \
        f"chapters missing from _toc.yml (they would not be built): {on_disk - set(PAGES)}"
    assert set(PAGES) - on_disk == set(), \
        f"_toc.yml lists pages that do not exist: {set(PAGES) - on_disk}"


def test_toc_parts_are_known():
    toc = yaml.safe_load(chapters.TOC.read_text())
    captions = [part["caption"] for part in toc.get("parts", [])]
    allowed = ["Introduction", "Model and theory", "Results", "Appendix"]
    assert all(c in allowed for c in captions), f"unknown part in _toc.yml: {captions}"
    assert captions == sorted(captions, key=allowed.index), f"parts out of order: {captions}"


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_chapter_is_a_myst_notebook_with_checks(page):
    path = chapters.page_source(page)
    nb = jupytext.read(path)
    assert nb.metadata["kernelspec"]["name"] == "python3", f"{path}: kernel must be python3"
    if path.suffix == ".md":
        fmt = nb.metadata["jupytext"]["text_representation"]["format_name"]
        assert fmt == "myst", f"{path}: jupytext format is {fmt!r}, expected 'myst'"
    hidden = [c for c in nb.cells if c.cell_type == "code"
              and "remove-cell" in c.metadata.get("tags", []) and "assert" in c.source]
    assert hidden, f"{path}: no hidden check cell (`:tags: [remove-cell]` with asserts)"


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_chapter_does_not_choose_a_backend(page):
    """Figures must reach the book: a chapter may ask for Jupyter's inline backend
    (``%matplotlib inline``) but never for another one (Agg would hide its figures)."""
    text = chapters.page_source(page).read_text()
    found = re.findall(r"matplotlib\.use\(|MPLBACKEND|%matplotlib +(?!inline\b)\S+", text)
    assert not found, f"{page}: chapters must not select a matplotlib backend ({found})"


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_executed_notebook_has_every_cell(page):
    """The cells myst-nb executes (and the cache hashes) are those jupytext shows a reader."""
    path = chapters.page_source(page)
    executed, opened = chapters.read(path), jupytext.read(path)
    for kind in ("code", "markdown"):
        assert [c.source for c in executed.cells if c.cell_type == kind] == \
            [c.source for c in opened.cells if c.cell_type == kind], (page, kind)
    assert [c.metadata.get("tags") for c in executed.cells if c.cell_type == "code"] == \
        [c.metadata.get("tags") for c in opened.cells if c.cell_type == "code"]


def test_api_appendix_lists_every_module():
    """book/api.md documents every module of the package (autodoc), so that chapters can
    link to any function with {func}`metarep.module.function`."""
    import pkgutil

    import metarep

    api = (ROOT / "book" / "api.md").read_text()
    modules = {m.name for m in pkgutil.walk_packages(metarep.__path__, "metarep.")
               if not m.name.split(".")[-1].startswith("_")}
    missing = sorted(m for m in modules if f".. automodule:: {m}\n" not in api)
    assert not missing, f"modules missing from book/api.md: {missing}"

