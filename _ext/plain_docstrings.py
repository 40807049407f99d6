"""Sphinx extension: show metarep's docstrings verbatim in the API appendix (book/api.md).

The package's docstrings are plain text that states shapes and equations (``(*batch, K)``,
``N(0, s²)``, ``max |rhs|``), not reStructuredText; parsed as RST they would be garbled
and raise markup warnings. Each docstring is therefore rendered as a preformatted block
(wrapped, see static/plain_docstrings.css), exactly as written, while autodoc still creates
the anchors that the chapters link to with {func}`metarep.module.function`.
"""

from __future__ import annotations

from pathlib import Path


def verbatim(app, what, name, obj, options, lines: list[str]) -> None:
    if any(line.strip() for line in lines):
        body = ("   " + line if line else "" for line in lines)
        lines[:] = [".. code-block:: text", "   :class: docstring", "", *body, ""]


def add_static(app) -> None:
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))


def setup(app):
    app.connect("autodoc-process-docstring", verbatim)
    app.connect("builder-inited", add_static)
    app.add_css_file("plain_docstrings.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
