"""The test suite's own layout: test modules share code only through ``helpers.py`` (and
``chapters.py``, ``conftest.py``, the figure cases of ``figure_cases/``), never by importing
each other, so that a test module can be moved, renamed or run alone."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
#: Modules of tests/ that other files of the suite may import.
SHARED = {"helpers", "chapters", "conftest", "figure_cases"}


def _local_modules() -> set[str]:
    return {p.stem for p in TESTS.glob("*.py")} | {p.parent.name for p in
                                                  TESTS.glob("*/__init__.py")}


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_module_imports_another():
    local = _local_modules()
    assert "helpers" in local and "figure_cases" in local
    files = sorted(TESTS.rglob("*.py"))
    assert len(files) > 20
    for path in files:
        bad = (_imported(path) & local) - SHARED
        assert not bad, f"{path.relative_to(TESTS)} imports test modules {sorted(bad)}: " \
                        "move the shared code to tests/helpers.py"


def test_figure_case_modules_are_not_collected():
    """The chapter modules of figure cases hold no tests of their own."""
    for path in (TESTS / "figure_cases").glob("*.py"):
        assert not path.name.startswith("test_"), path
        assert "def test_" not in path.read_text(), path
