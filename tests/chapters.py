"""The book's chapters as the tests see them: the table of contents, and the chapters
converted into notebooks for nbval.

``python tests/chapters.py convert DIR`` writes ``DIR/<chapter>.ipynb`` for every chapter of
``_toc.yml`` that is a notebook (a MyST file with a ``kernelspec``), ready for
``pytest --nbval-lax DIR``. Pages without a kernel (e.g. the bibliography) are only built.

nbval starts each kernel in the notebook's own folder, whereas the book executes a chapter
in ``book/``. The conversion therefore prepends one cell that changes into the chapter's
source folder, so that relative paths behave exactly as in the book build. Nothing is ever
written into ``book/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOC = ROOT / "_toc.yml"

#: Tag of the cell that the conversion prepends (it is not part of the chapter).
CHDIR_TAG = "nbtest-chdir"


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


def is_notebook(path: Path) -> bool:
    """A page is executed (and tested) iff it is a notebook with a kernel."""
    if path.suffix == ".ipynb":
        return True
    return "kernelspec" in jupytext.read(path).metadata


def notebook_pages() -> list[str]:
    """The TOC pages that are executed as notebooks."""
    return [p for p in toc_pages() if is_notebook(page_source(p))]


def converted(page: str) -> nbformat.NotebookNode:
    """The notebook of a chapter as nbval runs it: the chapter's cells, preceded by one cell
    that changes into the chapter's folder."""
    source = page_source(page)
    nb = jupytext.read(source)
    chdir = nbformat.v4.new_code_cell(
        f"import os\nos.chdir({str(source.parent)!r})  # as in the book build",
        metadata={"tags": [CHDIR_TAG]})
    nb.cells.insert(0, chdir)
    return nb


def convert(out_dir: Path) -> list[Path]:
    """Write every notebook chapter to ``out_dir/<name>.ipynb`` (the folder is emptied first
    so that deleted chapters do not linger)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.ipynb"):
        old.unlink()
    written = []
    for page in notebook_pages():
        path = out_dir / f"{Path(page).name}.ipynb"
        if path.exists():
            raise ValueError(f"two chapters are named {path.stem!r}; names must be unique")
        nbformat.write(converted(page), path)
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "convert":
        sys.exit("usage: python tests/chapters.py convert OUT_DIR")
    for p in convert(Path(sys.argv[2])):
        print(f"converted {p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}")
