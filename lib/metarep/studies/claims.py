r"""The claims ledger of the book (``book/claims.md``): each claim of the paper and each
extension of the companion, the chapters and figures that show it, and the checks behind it.

The registry (:data:`PAPER`, :data:`EXTENSIONS`) names only *where* the evidence is: a chapter
and the labels of its figures (or equations), and tests of the suite. Everything else is read
from the sources when the ledger is built, so that it cannot go stale:

* the **guards** of a label are the hidden check cells of its chapter (code cells tagged
  ``remove-cell`` with an ``assert`` statement) that name the label in their source, or, when a
  check names no label of its chapter, that follow the label's figure (up to the next
  figure); each guard is shown with the law its first comment lines state
  (:func:`chapter_guards`);
* a **test** ``tests/test_x.py::test_name`` must exist as a test function (:func:`has_test`).

A hidden guard fails the build of the book when its law does not hold (``allow_errors: false``),
and a test fails ``make test``: the verdict of a claim is therefore "checked" when each of its
labels has at least one guard (and each test exists), and the ledger says so only then
(:func:`verdicts`). ``tests/test_claims.py`` asserts it for every entry.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Evidence:
    """Where a claim is shown: a chapter (page name in ``book/``) and labels of its figures or
    equations."""

    chapter: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    """One entry of the ledger: a key ("1" … "6" for the paper's claims, numbered as in the
    introduction; "E1" … for extensions), a short title, a one-line statement (MyST), the
    evidence and tests (``tests/test_x.py::test_name``)."""

    key: str
    title: str
    statement: str
    evidence: tuple[Evidence, ...]
    tests: tuple[str, ...] = ()


def _ev(chapter: str, *labels: str) -> Evidence:
    return Evidence(chapter, tuple(labels))


#: The six claims of the paper, as the introduction states them.
PAPER = (
    Claim("1", "Deterministic macroscopic dynamics",
          "As $N\\to\\infty$ the order parameters follow ODEs in $\\alpha$.",
          (_ev("odes", "fig-odes-checks"), _ev("verification", "fig-drift", "fig-deviation"),
           _ev("finite_size", "fig-fs-runs")),
          ("tests/test_classic_limit.py::test_ode_equals_goldt_two_layer_sgd",
           "tests/test_drift.py::test_drift_matches_simulator",
           "tests/test_trajectories_vs_sim.py::test_gap_shrinks_with_n")),
    Claim("2", "Representation by specialization",
          "After a plateau the hidden units specialize, each to a distinct teacher unit.",
          (_ev("scenario", "fig-scenario-run"), _ev("dynamics", "fig-heatmaps"),
           _ev("symmetry_breaking", "fig-spectrum", "fig-escape"))),
    Claim("3", "Fast adaptation",
          "The meta-trained body generalises to new tasks after a few head steps.",
          (_ev("new_tasks", "fig-new-tasks-steps"),)),
    Claim("4", "Hyper-parameters matter",
          "Inner and outer rates and the number of inner steps decide whether and how fast "
          "the units specialize.",
          (_ev("hyperparameters", "fig-hyper-stability", "fig-hyper-inner", "fig-hyper-outer",
               "fig-hyper-phase"),)),
    Claim("5", "Over-parameterization",
          "The picture survives for $K > M$.",
          (_ev("overparameterization", "fig-overparam-dynamics", "fig-overparam-roles",
               "fig-overparam-width"),)),
    Claim("6", "Robustness",
          "It survives variability of the tasks' input-to-hidden maps.",
          (_ev("task_variability", "fig-spread-dynamics", "fig-spread-floor"),)),
)

#: What the companion adds to the paper.
EXTENSIONS = (
    Claim("E1", "Closed-form Gaussian integrals",
          "$I_2, J_2, I_3, I_4$ of $g = \\operatorname{erf}(z/\\sqrt2)$ agree with Monte Carlo.",
          (_ev("order_parameters", "eq-i2", "eq-j2", "eq-i3", "eq-i4"),),
          ("tests/test_integrals.py::test_i4",)),
    Claim("E2", "Drift = chain rule of the meta-loss",
          "The mean meta-update is the gradient of the closed-form meta-loss; the noise term "
          "is its exact task average.",
          (_ev("odes", "fig-odes-checks"), _ev("verification", "fig-drift")),
          ("tests/test_drift.py::test_drift_is_minus_eta_gradient_in_weight_space",
           "tests/test_metaloss.py::test_noise_term_vs_monte_carlo")),
    Claim("E3", "The plateau's escape law",
          "The plateau is a saddle in the teacher-symmetric subspace with one odd unstable "
          "mode; its length grows like $\\ln(1/\\delta)$ and $\\ln N$.",
          (_ev("symmetry_breaking", "fig-spectrum", "fig-escape", "fig-odd-rate", "fig-size"),)),
    Claim("E4", "First-order instability and natural rates",
          "The first-order head update is unstable for large inner rates; the outer rate has "
          "a maximum.",
          (_ev("hyperparameters", "fig-hyper-first-order", "fig-hyper-outer"),)),
    Claim("E5", "Exact teacher-spread floor and label noise",
          "The error floor of the teacher spread in closed form; the excess error of label "
          "noise.",
          (_ev("task_variability", "fig-spread-floor", "fig-readout", "fig-label-noise"),)),
    Claim("E6", "Few-shot adaptation",
          "Adaptation from finite support sets of $P$ samples (simulated).",
          (_ev("new_tasks", "fig-new-tasks-support"),)),
    Claim("E7", "Finite-size effects",
          "Early fluctuations scale like $N^{-1/2}$; escape from the exact symmetric state is "
          "driven by finite-$N$ noise.",
          (_ev("finite_size", "fig-fs-runs", "fig-fs-scaling"),)),
)


# -- reading the chapters ---------------------------------------------------------------------

@dataclass(frozen=True)
class Guard:
    """A hidden check cell of a chapter: its position among the chapter's cells, the labels
    it checks (named in its source, or else the figure it follows) and the law its first
    block of comment lines states."""

    chapter: str
    cell: int
    labels: tuple[str, ...]
    law: str


_EQ_LABEL = re.compile(r"^\$\$ *\((eq-[\w-]+)\)", re.M)
_TARGET = re.compile(r"^\(([\w-]+)\)=", re.M)
_NAME = re.compile(r"^:name: *([\w-]+)", re.M)
_ASSERT = re.compile(r"^\s*assert\b", re.M)


def _notebook(book: Path, chapter: str):
    import jupytext   # (the book's tools; imported only when a ledger is built)

    return jupytext.read(Path(book) / f"{chapter}.md")


def chapter_labels(book: Path, chapter: str) -> set[str]:
    """Every label a chapter defines: figure names of its code cells, ``(label)=`` targets,
    ``:name:`` options and equation labels ``$$ (eq-…)``."""
    nb = _notebook(book, chapter)
    labels = set()
    for cell in nb.cells:
        fig = (cell.metadata.get("mystnb") or {}).get("figure") or {}
        if fig.get("name"):
            labels.add(fig["name"])
        if cell.cell_type == "markdown":
            for pattern in (_EQ_LABEL, _TARGET, _NAME):
                labels |= set(pattern.findall(cell.source))
    return labels


def _law(source: str) -> str:
    """What a check asserts, from its first block of comment lines: joined, without the
    leading ``Guard(s)`` and without a header that only names what is guarded
    (``# Guards of fig-x.``)."""
    block, started = [], False
    for line in source.splitlines():
        text = line.strip()
        if text.startswith("#"):
            block.append(text.lstrip("#").strip())
            started = True
        elif started:
            break
    if not block:
        return "(no comment)"
    if len(block) > 1 and block[0].endswith(".") and len(block[0]) < 60 \
            and ":" not in block[0]:
        block = block[1:]          # a header such as "Guards of the claims of fig-x."
    text = " ".join(block)
    return re.sub(r"^Guards?\b[:\s]*", "", text).strip() or text


def chapter_guards(book: Path, chapter: str) -> list[Guard]:
    """The hidden check cells of a chapter, each with the labels it checks (see the module
    doc)."""
    nb = _notebook(book, chapter)
    known = chapter_labels(book, chapter)
    guards, figure = [], None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        fig = ((cell.metadata.get("mystnb") or {}).get("figure") or {}).get("name")
        if fig:
            figure = fig
        if "remove-cell" in cell.metadata.get("tags", []) and _ASSERT.search(cell.source):
            named = tuple(sorted(lab for lab in known
                                 if re.search(rf"(?<![\w-]){re.escape(lab)}(?![\w-])",
                                              cell.source)))
            labels = named or ((figure,) if figure else ())
            guards.append(Guard(chapter, i, labels, _law(cell.source)))
    return guards


def has_test(root: Path, spec: str) -> bool:
    """Whether ``tests/test_x.py::test_name`` is a test function of the suite under ``root``."""
    path, _, name = spec.partition("::")
    file = Path(root) / path
    if not file.is_file():
        return False
    tree = ast.parse(file.read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


# -- the ledger -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """The evidence of one claim as found in the sources: per label of each evidence, its
    guards; missing labels; tests and whether they exist; ``checked`` when every label exists
    and has a guard and every test exists."""

    claim: Claim
    guards: dict[tuple[str, str], list[Guard]]
    missing: tuple[tuple[str, str], ...]
    tests: dict[str, bool]

    @property
    def checked(self) -> bool:
        return (not self.missing and all(self.guards.values()) and all(self.tests.values()))


def verdicts(claims, root: Path) -> list[Verdict]:
    """The :class:`Verdict` of every claim, from the chapters in ``root/book`` and the tests
    in ``root/tests``."""
    book = Path(root) / "book"
    cache: dict[str, tuple[set[str], list[Guard]]] = {}
    out = []
    for claim in claims:
        found, missing = {}, []
        for ev in claim.evidence:
            if ev.chapter not in cache:
                cache[ev.chapter] = (chapter_labels(book, ev.chapter),
                                     chapter_guards(book, ev.chapter))
            labels, guards = cache[ev.chapter]
            for lab in ev.labels:
                if lab not in labels:
                    missing.append((ev.chapter, lab))
                found[(ev.chapter, lab)] = [g for g in guards if lab in g.labels]
        tests = {t: has_test(root, t) for t in claim.tests}
        out.append(Verdict(claim, found, tuple(missing), tests))
    return out


def _link(chapter: str, label: str) -> str:
    return f"{{numref}}`{label}`" if label.startswith("fig-") else f"{{eq}}`{label}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def ledger_table(rows: list[Verdict], max_law: int = 110) -> str:
    """A MyST table of the ledger: claim, chapter and figures, the laws of the guards, the
    tests, and the verdict."""
    lines = ["| | Claim | Where | Checked by | Verdict |", "|---|---|---|---|---|"]
    for v in rows:
        where = "; ".join(
            f"{{doc}}`{ev.chapter}`: " + ", ".join(_link(ev.chapter, lab) for lab in ev.labels)
            for ev in v.claim.evidence)
        laws, seen = [], set()
        for (chapter, _), guards in v.guards.items():
            for g in guards:
                if (g.chapter, g.cell) not in seen:
                    seen.add((g.chapter, g.cell))
                    law = g.law if len(g.law) <= max_law else g.law[:max_law - 1] + "…"
                    laws.append(f"*{chapter}*: {law}")
        laws += [f"`{t.split('::')[-1]}`" for t in v.tests]
        n_guards, n_tests = len(seen), len(v.tests)
        if v.checked:
            verdict = (f"checked by {n_guards} guard{'s' * (n_guards != 1)}"
                       + (f" and {n_tests} test{'s' * (n_tests != 1)}" if n_tests else "")
                       + ": holds whenever the book builds")
        else:
            gaps = [f"{lab} missing" for _, lab in v.missing]
            gaps += [f"no guard of {lab}" for (_, lab), g in v.guards.items() if not g]
            gaps += [f"no test {t}" for t, ok in v.tests.items() if not ok]
            verdict = "**not checked**: " + ", ".join(gaps)
        statement = f"**{v.claim.title}.** {v.claim.statement}"
        lines.append("| " + " | ".join(_cell(x) for x in (
            v.claim.key, statement, where, "; ".join(laws), verdict)) + " |")
    return "\n".join(lines)


__all__ = ["Evidence", "Claim", "PAPER", "EXTENSIONS", "Guard", "chapter_labels",
           "chapter_guards", "has_test", "Verdict", "verdicts", "ledger_table"]
