"""Every number a chapter states is computed: prose and captions carry computed values only
through myst-nb ``glue``.

The scan reads each chapter's markdown cells and figure captions, removes what may hold
numbers legitimately (math, code, roles such as ``{glue:text}``/``{eq}``/``{download}``,
labels, links, and the book's analytic constants), and collects what still looks computed: a
decimal number, a ``±``, or a percentage. A value typed in one of the chapter's code cells
(its parameters) may be repeated in its prose. The book allows at most ``MAX_TYPED`` such
numbers in all.
"""

from __future__ import annotations

import re

import chapters
import jupytext

#: At most this many typed computed-looking numbers may remain in all chapters' prose.
MAX_TYPED = 5

_STRIP = [
    r"\$\$.*?\$\$",              # display math
    r"\$\\?[a-zA-Z]+\$",         # a bare symbol in inline math (numbers inside math count)
    r"```.*?```",                # fenced blocks (directives' bodies are scanned separately)
    r"`[^`\n]*`",                # inline code, and the argument of roles
    r"\{[a-z:-]+\}",             # role names such as {glue:text}, {eq}, {numref}
    r"\([\w-]+\)=",              # labels
    r"\]\([^)]*\)",              # link targets
    r"arXiv:\d+\.\d+",           # the paper's identifier
    r"\b\d+\.\d+\.\d+\S*",       # version numbers
    r"±\s?(?:1\s?)?s\.e\.",          # error bars described: "mean ± 1 s.e."
]
_COMPUTED = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])|±|\d+(?:\.\d+)?\s?%")


def _prose(nb) -> list[str]:
    """Markdown cells and figure captions of a chapter."""
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    for c in nb.cells:
        figure = c.metadata.get("mystnb", {}).get("figure", {})
        if "caption" in figure:
            texts.append(str(figure["caption"]))
    return texts


def _typed(page: str) -> list[str]:
    nb = jupytext.read(chapters.page_source(page))
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    literals = set(re.findall(r"\d+\.\d+|\d+", code))
    found = []
    for text in _prose(nb):
        for pattern in _STRIP:
            text = re.sub(pattern, " ", text, flags=re.S)
        for m in _COMPUTED.finditer(text):
            token = m.group(0)
            number = re.sub(r"\s?%", "", token)
            if token != "±" and number in literals:
                continue
            found.append(f"{page}: …{text[max(0, m.start() - 30):m.end() + 10].strip()}…")
    return found


def test_chapter_prose_has_no_typed_computed_numbers():
    typed = [t for page in chapters.notebook_pages() for t in _typed(page)]
    assert len(typed) <= MAX_TYPED, (f"{len(typed)} typed computed-looking numbers in the "
                                     "chapters' prose (glue them):\n  " + "\n  ".join(typed))


def test_every_results_chapter_uses_glue():
    toc = chapters.yaml.safe_load(chapters.TOC.read_text())
    results = [c["file"] for part in toc["parts"] if part["caption"] == "Results"
               for c in part["chapters"]]
    missing = [p for p in results if "{glue:" not in chapters.page_source(p).read_text()]
    assert not missing, f"results chapters without glue: {missing}"
