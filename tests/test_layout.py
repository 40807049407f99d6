"""The package's layering: no import cycles (function-level imports included), the core never
imports a study, no study imports another study, and no docstring cites a document that
readers of the repository do not have."""

from __future__ import annotations

import ast
import re
import pkgutil
from pathlib import Path

import metarep

PACKAGE = Path(metarep.__file__).parent


def _modules() -> dict[str, Path]:
    return {m.name: PACKAGE.joinpath(*m.name.split(".")[1:]).with_suffix(".py")
            if not m.ispkg else PACKAGE.joinpath(*m.name.split(".")[1:], "__init__.py")
            for m in pkgutil.walk_packages(metarep.__path__, "metarep.")} | {
        "metarep": PACKAGE / "__init__.py"}


def _imports(name: str, path: Path) -> set[str]:
    """Every metarep module imported anywhere in a module (top level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("metarep")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("metarep"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    known = set(_modules())
    return {m for m in out if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    return {name: _imports(name, path) for name, path in _modules().items()}


def test_no_import_cycles():
    graph = _graph()
    graph = {k: {m for m in v if m != "metarep"} for k, v in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_core_never_imports_a_study_and_studies_not_each_other():
    for name, deps in _graph().items():
        studies = {d for d in deps if d.startswith("metarep.studies.")}
        if name.startswith("metarep.studies."):
            assert not studies, f"{name} imports another study: {sorted(studies)}"
        elif name != "metarep.cli":
            assert not studies, f"core module {name} imports a study: {sorted(studies)}"


def test_no_docstring_cites_the_spec():
    for name, path in _modules().items():
        assert not re.search(r"\bSPEC\b(?!_)", path.read_text()), \
            f"{name} cites SPEC (readers have the book, not the SPEC)"


def test_theory_chapter_labels_are_cited_by_the_code():
    """Every equation label of the theory chapters appears in the package (the docstring of
    the function that implements it)."""
    import re

    root = PACKAGE.parents[1]
    code = "\n".join(p.read_text() for p in _modules().values())
    for chapter in ("order_parameters", "odes", "few_shot"):
        labels = re.findall(r"^\$\$ \((eq-[\w-]+)\)", (root / "book" / f"{chapter}.md")
                            .read_text(), flags=re.M)
        assert labels, chapter
        missing = [lab for lab in labels if lab not in code]
        assert not missing, f"labels of book/{chapter}.md not cited in lib/: {missing}"
