"""The claims ledger (book/claims.md, metarep.studies.claims) and the introduction's map.

The ledger names, for each claim of the paper and each extension, a chapter, the labels of its
figures (or equations) and tests; everything else is read from the sources. These tests keep
it from going stale: every named chapter, label and test exists, every label has a hidden
guard, the introduction states the same six claims, and its map links every chapter.
"""

from __future__ import annotations

import re

import pytest

import chapters
from metarep.studies import claims

ROOT = chapters.ROOT
ENTRIES = claims.PAPER + claims.EXTENSIONS


def test_keys_are_unique_and_the_paper_has_six_claims():
    keys = [c.key for c in ENTRIES]
    assert len(keys) == len(set(keys)), keys
    assert [c.key for c in claims.PAPER] == [str(i) for i in range(1, 7)]
    assert all(c.key.startswith("E") for c in claims.EXTENSIONS)


@pytest.mark.parametrize("claim", ENTRIES, ids=lambda c: c.key)
def test_every_entry_is_checked(claim):
    """Its chapters are in the book, its labels defined there, each label has at least one
    hidden guard, and its tests exist."""
    pages = {p.removeprefix("book/") for p in chapters.toc_pages()}
    for ev in claim.evidence:
        assert ev.chapter in pages, f"claim {claim.key}: {ev.chapter} is not in _toc.yml"
    (verdict,) = claims.verdicts([claim], ROOT)
    assert not verdict.missing, f"claim {claim.key}: labels not defined: {verdict.missing}"
    unguarded = [lab for lab, g in verdict.guards.items() if not g]
    assert not unguarded, f"claim {claim.key}: no hidden guard checks {unguarded}"
    absent = [t for t, ok in verdict.tests.items() if not ok]
    assert not absent, f"claim {claim.key}: tests not found: {absent}"
    assert verdict.checked


def test_the_introduction_states_the_ledgers_claims_in_order():
    intro = (ROOT / "book" / "intro.md").read_text()
    found = re.findall(r"^\d\. \*\*(.+?)\.\*\*", intro, flags=re.M)
    assert found == [c.title for c in claims.PAPER], found


def test_the_introductions_map_links_every_chapter():
    intro = (ROOT / "book" / "intro.md").read_text()
    section = intro[intro.index("## Map of the book"):intro.index("## Notation")]
    linked = set(re.findall(r"\{doc\}`([\w/]+)`", section))
    pages = {p.removeprefix("book/") for p in chapters.toc_pages()[1:]}
    assert pages - linked == set(), f"the intro's map does not mention {pages - linked}"


# -- the reader of the chapters, on a small synthetic chapter ---------------------------------

CHAPTER = '''---
jupytext:
  text_representation: {extension: .md, format_name: myst, format_version: 0.13}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

# A chapter

$$
x = 1
$$ (eq-one)

```{code-cell} ipython3
:tags: [remove-cell]
# Guard eq-one: x is one.
assert 1 == 1
```

```{code-cell} ipython3
---
mystnb:
  figure:
    name: fig-a
---
print("a")
```

```{code-cell} ipython3
:tags: [remove-cell]
# Guards of the claims above.
# The law of figure a,
# on two lines.
x = 2

assert x == 2
```

```{code-cell} ipython3
---
mystnb:
  figure:
    name: fig-b
---
print("b")
```

```{code-cell} ipython3
:tags: [remove-cell]
# not an assert cell, hence no guard
y = 3
```
'''


def test_guards_are_tied_to_named_or_preceding_labels(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "toy.md").write_text(CHAPTER)
    book = tmp_path / "book"
    assert claims.chapter_labels(book, "toy") == {"eq-one", "fig-a", "fig-b"}
    guards = claims.chapter_guards(book, "toy")
    assert [g.labels for g in guards] == [("eq-one",), ("fig-a",)]
    assert guards[0].law == "eq-one: x is one."
    assert guards[1].law == "The law of figure a, on two lines."
    (tests := tmp_path / "tests").mkdir()
    (tests / "test_toy.py").write_text("def test_present():\n    pass\n")
    entry = claims.Claim("X", "Toy", "A toy.", (claims.Evidence("toy", ("fig-a", "eq-one")),),
                         ("tests/test_toy.py::test_present",))
    (ok,) = claims.verdicts([entry], tmp_path)
    assert ok.checked and not ok.missing
    bad = claims.Claim("Y", "Toy", "A toy.",
                       (claims.Evidence("toy", ("fig-b", "fig-gone")),),
                       ("tests/test_toy.py::test_absent",))
    (v,) = claims.verdicts([bad], tmp_path)
    assert not v.checked
    assert v.missing == (("toy", "fig-gone"),)
    assert v.guards[("toy", "fig-b")] == []
    assert v.tests == {"tests/test_toy.py::test_absent": False}
    table = claims.ledger_table([ok, v])
    assert "checked by 2 guards and 1 test" in table
    assert "**not checked**: fig-gone missing, no guard of fig-b" in table
