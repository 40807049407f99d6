"""The figure cases of ``tests/test_figures.py``, one module per chapter.

Each module defines ``CASES``, a list of :class:`FigureCase`: a name (the baseline file
``tests/baseline/<name>.png`` and the key in ``tests/fingerprints.json``), the dotted name of
the figure function it covers, and a function that draws it from small deterministic data
(closed-form arrays, no integration or simulation). The modules are named after the chapters
whose figures they guard; they are not test modules (no ``test_`` prefix) and import only
:mod:`helpers` from the test suite.

**Adding a figure function**: append a :class:`FigureCase` to the ``CASES`` of its chapter's
module, then run ``make baselines``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from matplotlib.figure import Figure


@dataclass(frozen=True)
class FigureCase:
    """One figure to guard: ``draw()`` returns a Figure made from small deterministic data."""

    name: str          #: baseline file tests/baseline/<name>.png and key in fingerprints.json
    function: str      #: dotted name of the figure function covered, e.g. metarep.plotting.plot_overview
    draw: Callable[[], Figure]
    tolerance: float = 2.0  #: pytest-mpl RMS tolerance (0–255 scale)


#: The chapters with figure cases, in the order of the book.
CHAPTERS = ("scenario", "odes", "verification", "dynamics", "symmetry_breaking", "hyperparameters",
            "overparameterization", "task_variability", "new_tasks", "few_shot", "finite_size")


def all_cases() -> list[FigureCase]:
    """Every case of every chapter module, in the order of :data:`CHAPTERS`."""
    import importlib

    return [case for chapter in CHAPTERS
            for case in importlib.import_module(f"{__name__}.{chapter}").CASES]
