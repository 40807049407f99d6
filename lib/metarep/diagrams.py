"""Schematic figures of the scenario: the two networks and one meta-training step.

Pure drawing (no science is computed here); used by the chapter on the model.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from metarep.plotting import style, unit_colors


def _network(ax, x0: float, n_hidden: int, title: str, first: str, second: str, color,
             left: bool = False) -> None:
    """A two-layer network: 5 input nodes, n_hidden hidden units, one output, at offset x0.

    The layer labels go to the right of the network, or to its left with ``left=True``.
    """
    inputs = [(x0 + 0.15 * i, 0.0) for i in range(5)]
    width = 0.6
    hidden = [(x0 + 0.3 + width * (j / max(n_hidden - 1, 1) - 0.5), 0.55)
              for j in range(n_hidden)]
    out = (x0 + 0.3, 1.0)
    for xi in inputs:
        for h in hidden:
            ax.plot([xi[0], h[0]], [xi[1], h[1]], color=color, lw=0.4, alpha=0.45)
    for h in hidden:
        ax.plot([h[0], out[0]], [h[1], out[1]], color=color, lw=1.2)
    ax.scatter(*zip(*inputs), s=40, color="0.75", zorder=3, edgecolor="k", lw=0.5)
    ax.scatter(*zip(*hidden), s=90, color=color, zorder=3, edgecolor="k", lw=0.5)
    ax.scatter(*out, s=90, color="white", zorder=3, edgecolor="k", lw=0.8)
    ax.text(x0 + 0.3, -0.17, r"input $\mathbf{x}\in\mathbb{R}^N$", ha="center", va="top")
    if left:
        ax.text(x0 - 0.12, 0.27, first, ha="right", va="center")
        ax.text(x0 + 0.05, 0.8, second, ha="right", va="center")
    else:
        ax.text(x0 + 0.72, 0.27, first, ha="left", va="center")
        ax.text(x0 + 0.55, 0.8, second, ha="left", va="center")
    ax.text(x0 + 0.3, 1.14, title, ha="center", va="bottom", fontweight="bold")


def _box(ax, xy, text, color) -> None:
    ax.add_patch(FancyBboxPatch((xy[0] - 0.42, xy[1] - 0.16), 0.84, 0.32,
                                boxstyle="round,pad=0.02", fc=color, ec="k", lw=0.6, alpha=0.9))
    ax.text(*xy, text, ha="center", va="center", fontsize=7.5)


def _arrow(ax, a, b, text="") -> None:
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=9, lw=0.9, color="k"))
    if text:
        ax.text((a[0] + b[0]) / 2 + 0.03, (a[1] + b[1]) / 2, text, fontsize=7, va="center")


def plot_scenario_diagram(K: int = 3, M: int = 2):
    """Left: meta-teacher task τ (M units) and meta-learner (K units). Right: one meta-step.

    Returns the figure.
    """
    teacher_color, student_color = unit_colors(2)
    with style():
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.2),
                                       gridspec_kw={"width_ratios": [1.25, 1]})
        _network(ax1, 0.0, M, "meta-teacher\n(task τ)",
                 r"$B^\tau=\sqrt{1-\sigma_B^2}B+\sigma_B\Xi^\tau$",
                 r"$v^\tau\sim\mathcal{N}(\bar v,\sigma_v^2)$", teacher_color, left=True)
        _network(ax1, 1.1, K, "meta-learner\n(shared body)", r"body $W$ (shared)",
                 r"head $a\to a'$", student_color)
        ax1.set_xlim(-1.25, 2.45)
        ax1.set_ylim(-0.35, 1.3)
        ax1.axis("off")

        steps = [((0.5, 1.55), "draw task τ:\n$v^\\tau$, $B^\\tau$", "0.92"),
                 ((0.5, 1.0), "support (P samples or\npopulation): labels $y$", "0.92"),
                 ((0.5, 0.45), "inner loop: S steps on\nthe head, $a\\to a'$", student_color),
                 ((0.5, -0.1), "query: b fresh samples,\nloss $\\ell(W, a')$", "0.92"),
                 ((1.5, -0.1), "outer step: $W \\leftarrow W-\\eta\\nabla_W\\ell$,\n"
                               "$a \\leftarrow a-\\frac{\\eta_a}{N}\\nabla_a\\ell$", teacher_color)]
        for xy, text, color in steps:
            _box(ax2, xy, text, color)
        for (a, _, _), (b, _, _) in zip(steps[:-2], steps[1:-1]):
            _arrow(ax2, (a[0], a[1] - 0.17), (b[0], b[1] + 0.17))
        _arrow(ax2, (0.93, -0.1), (1.07, -0.1))
        _arrow(ax2, (1.5, 0.07), (0.93, 1.55), "next task,\nα += 1/N")
        ax2.set_xlim(0.0, 2.0)
        ax2.set_ylim(-0.35, 1.8)
        ax2.axis("off")
        ax2.set_title("one meta-training step", fontweight="bold")
    return fig
