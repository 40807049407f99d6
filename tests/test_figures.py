"""Figure regression: every figure function of ``metarep`` is guarded twice.

1. **Image**: pytest-mpl draws the case and compares it with ``tests/baseline/<case>.png``
   (run with ``--mpl``; RMS tolerance per case, on the 0–255 scale). A failure names the RMS
   difference and leaves the images under ``_build/mpl-results/``.
2. **Numbers**: a fingerprint of the data actually drawn — every line, marker set, error
   bar, filled area, patch and image of every axes — is compared with ``tests/fingerprints.json``.
   Text positions are included (their content is guarded by the image). For each drawn
   array x (n finite values) the fingerprint stores n, Σx, ‖x‖₂ and the
   ramp-weighted sum Σ wᵢxᵢ (w from 1 to 2, so that reordering is noticed). They must agree to
   ``RTOL`` relative to the array's scale: |Δ‖x‖| ≤ RTOL‖x‖, |ΔΣx| ≤ RTOL√n‖x‖ and
   |ΔΣwx| ≤ 2·RTOL√n‖x‖ (Cauchy–Schwarz bounds of the two sums). The message names the
   figure, axes, artist (with its label) and quantity.

The data are small and deterministic. ``make baselines`` regenerates both references
deliberately (``--mpl-generate-path=tests/baseline --update-fingerprints``).

The cases live in ``tests/figure_cases/``, one module per chapter (``figure_cases.dynamics``
for ``book/dynamics.md``, …). **Adding a figure function**: append one :class:`FigureCase`
to the ``CASES`` of its chapter's module (a name, the dotted name of the function it covers,
and a function that draws it from small deterministic data), then run ``make baselines``.
``test_every_figure_function_has_a_case`` fails for any public ``plot_*`` function of the
package without a case.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import pkgutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import Collection, LineCollection
from matplotlib.figure import Figure

import metarep
from figure_cases import FigureCase, all_cases

FINGERPRINTS = Path(__file__).with_name("fingerprints.json")

#: Relative tolerance of the fingerprints. The drawn data are deterministic float64
#: computations of a pinned stack; across CPUs they differ by reassociation rounding
#: (~1e-13), far below this, while any change of a plotted quantity is far above it.
RTOL = 1e-6


# -- the cases ------------------------------------------------------------------------------

#: Every figure case, from the chapter modules of tests/figure_cases/.
CASES: list[FigureCase] = all_cases()


# -- fingerprints of drawn data -------------------------------------------------------------

def drawn_arrays(fig: Figure) -> dict[str, np.ndarray]:
    """Every numeric array drawn in ``fig``, keyed by axes, artist (and label) and field."""
    out: dict[str, np.ndarray] = {}
    for i, ax in enumerate(fig.axes):
        for j, line in enumerate(ax.get_lines()):
            key = f"ax{i}.line{j}[{line.get_label()}]"
            out[f"{key}.x"] = np.asarray(line.get_xdata(), dtype=float)
            out[f"{key}.y"] = np.asarray(line.get_ydata(), dtype=float)
        for j, coll in enumerate(ax.collections):
            key = f"ax{i}.{type(coll).__name__}{j}[{coll.get_label()}]"
            if isinstance(coll, LineCollection):        # error bars
                segs = coll.get_segments()
                out[f"{key}.segments"] = (np.concatenate(segs).ravel() if segs
                                          else np.zeros(0))
            elif isinstance(coll, Collection):
                out[f"{key}.offsets"] = np.asarray(coll.get_offsets(), dtype=float).ravel()
                paths = coll.get_paths()
                if paths:                                   # filled areas, patches
                    out[f"{key}.vertices"] = np.concatenate(
                        [p.vertices.ravel() for p in paths])
                if coll.get_array() is not None:            # colour-mapped values
                    out[f"{key}.values"] = np.ma.filled(
                        np.asarray(coll.get_array(), dtype=float).ravel(), np.nan)
        for j, patch in enumerate(ax.patches):              # boxes, arrows, bars
            out[f"ax{i}.{type(patch).__name__}{j}[{patch.get_label()}].vertices"] = \
                patch.get_patch_transform().transform(patch.get_path().vertices).ravel()
        if ax.texts:                                        # where annotations sit
            out[f"ax{i}.text_positions"] = np.array(
                [t.get_position() for t in ax.texts], dtype=float).ravel()
        for j, image in enumerate(ax.get_images()):
            out[f"ax{i}.image{j}.values"] = np.ma.filled(
                np.asarray(image.get_array(), dtype=float), np.nan).ravel()
        out[f"ax{i}.limits"] = np.array([*ax.get_xlim(), *ax.get_ylim()], dtype=float)
    return out


def fingerprint(fig: Figure) -> dict[str, dict[str, float]]:
    """n, Σx, ‖x‖₂ and Σwx (w: ramp from 1 to 2) of the finite values of each drawn array."""
    result = {}
    for key, arr in drawn_arrays(fig).items():
        x = arr[np.isfinite(arr)]
        w = np.linspace(1.0, 2.0, x.size) if x.size else x
        result[key] = {"n": int(x.size), "sum": float(x.sum()),
                       "norm": float(np.sqrt((x * x).sum())), "ramp": float((w * x).sum())}
    return result


def compare_fingerprints(name: str, got: dict, want: dict, rtol: float = RTOL) -> list[str]:
    """Readable differences between two fingerprints (empty when they agree)."""
    problems = []
    for key in sorted(set(want) - set(got)):
        problems.append(f"{name}: {key} is no longer drawn")
    for key in sorted(set(got) - set(want)):
        problems.append(f"{name}: {key} is drawn but has no stored fingerprint")
    for key in sorted(set(got) & set(want)):
        g, w = got[key], want[key]
        if g["n"] != w["n"]:
            problems.append(f"{name}: {key} has {g['n']} finite values, expected {w['n']}")
            continue
        scale = w["norm"]
        bounds = {"norm": rtol * scale, "sum": rtol * math.sqrt(w["n"]) * scale,
                  "ramp": 2 * rtol * math.sqrt(w["n"]) * scale}
        for q, bound in bounds.items():
            if abs(g[q] - w[q]) > bound:
                problems.append(f"{name}: {key} {q} = {g[q]:.12g}, expected {w[q]:.12g} "
                                f"(|difference| {abs(g[q] - w[q]):.3g} > {bound:.3g} "
                                f"= {rtol:g} relative)")
    return problems


# -- tests ------------------------------------------------------------------------------------

def _image_param(case: FigureCase):
    return pytest.param(case, id=case.name, marks=pytest.mark.mpl_image_compare(
        baseline_dir="baseline", filename=f"{case.name}.png", tolerance=case.tolerance,
        style="default", savefig_kwargs={"dpi": 80}))


@pytest.mark.parametrize("case", [_image_param(c) for c in CASES])
def test_figure_image(case):
    """The figure looks as stored (pytest-mpl with --mpl; without it, it only draws)."""
    return case.draw()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_figure_fingerprint(case, request):
    """The data drawn in the figure are those stored in tests/fingerprints.json."""
    with plt.style.context("default"):
        fig = case.draw()
    got = fingerprint(fig)
    plt.close(fig)
    if request.config.getoption("--update-fingerprints"):
        stored = json.loads(FINGERPRINTS.read_text()) if FINGERPRINTS.exists() else {}
        stored[case.name] = got
        FINGERPRINTS.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        return
    stored = json.loads(FINGERPRINTS.read_text())
    assert case.name in stored, f"no fingerprint for {case.name}: run `make baselines`"
    problems = compare_fingerprints(case.name, got, stored[case.name])
    assert not problems, "figure data changed:\n  " + "\n  ".join(problems)


def _figure_functions() -> set[str]:
    """Dotted names of the public ``plot_*`` functions defined in the package."""
    names = set()
    for mod in pkgutil.walk_packages(metarep.__path__, "metarep."):
        if mod.name.endswith("__main__"):
            continue
        module = importlib.import_module(mod.name)
        for name, obj in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("plot_") and obj.__module__ == module.__name__:
                names.add(f"{module.__name__}.{name}")
    return names


def test_every_figure_function_has_a_case():
    covered = {case.function for case in CASES}
    assert _figure_functions() - covered == set(), \
        ("figure functions without a FigureCase in tests/figure_cases/: "
         f"{_figure_functions() - covered}")
    assert covered - _figure_functions() == set(), \
        f"cases of unknown functions: {covered - _figure_functions()}"


def test_references_have_no_stale_entries(request):
    if request.config.getoption("--update-fingerprints"):
        return
    names = {case.name for case in CASES}
    assert len(names) == len(CASES), "two figure cases share a name"
    stored = set(json.loads(FINGERPRINTS.read_text()))
    baselines = {p.stem for p in Path(__file__).with_name("baseline").glob("*.png")}
    assert stored == names, f"fingerprints.json entries {stored ^ names} do not match CASES"
    assert baselines == names, f"tests/baseline/ images {baselines ^ names} do not match CASES"


def test_fingerprint_comparison_reports_changes():
    """The comparison itself: equal passes, a changed value or artist is named."""
    fig, ax = plt.subplots()
    ax.plot([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], label="curve")
    want = fingerprint(fig)
    ax.lines[0].set_ydata([1.0, 2.0, 3.0 * (1 + 10 * RTOL)])
    got = fingerprint(fig)
    plt.close(fig)
    assert compare_fingerprints("demo", want, want) == []
    problems = compare_fingerprints("demo", got, want)
    assert problems and all("ax0.line0[curve].y" in p for p in problems), problems
    assert compare_fingerprints("demo", {}, want)[0].endswith("is no longer drawn")


def test_cases_live_in_their_chapter_module():
    """A study's figure functions are guarded by the case module of its chapter
    (``metarep.studies.<chapter>.plot_*`` in ``tests/figure_cases/<chapter>.py``)."""
    from figure_cases import CHAPTERS

    for chapter in CHAPTERS:
        for case in importlib.import_module(f"figure_cases.{chapter}").CASES:
            parts = case.function.split(".")
            if parts[1] == "studies":
                assert parts[2] == chapter, \
                    f"case {case.name} ({case.function}) is in figure_cases/{chapter}.py"
