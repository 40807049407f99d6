"""Files a book chapter offers for download: its figures' data (CSV) and configurations (TOML).

Chapters execute in ``book/`` and write into ``../_build/downloads/<chapter>/`` (next to the
build, never into ``book/``); the page links each file with a ``{download}`` role, which
copies it into the HTML build. Tables written here have one header line and one row per
record, so they load with ``numpy.genfromtxt(path, delimiter=",", names=True)`` or
``pandas.read_csv``; trajectories use :meth:`metarep.trajectory.Trajectory.to_csv`, which
``Trajectory.from_csv`` and ``python -m metarep`` read back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

#: Where chapters write their downloads, relative to ``book/`` (their working directory).
ROOT = Path("../_build/downloads")


def folder(chapter: str, root: Path | str = ROOT) -> Path:
    """The (created) download folder of ``chapter``: ``root/chapter``."""
    path = Path(root) / chapter
    path.mkdir(parents=True, exist_ok=True)
    return path


def _rows(columns: Mapping[str, object]) -> dict[str, np.ndarray]:
    """The columns of one table as 1-d arrays of one length (scalars repeated)."""
    arrays = {}
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.ndim > 1:
            raise ValueError(f"column {name!r} has shape {arr.shape}: columns are 1-d")
        arrays[name] = arr
    lengths = {name: arr.size for name, arr in arrays.items() if arr.ndim == 1}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns have different lengths: {lengths}")
    n = next(iter(lengths.values()), 1)
    return {name: np.broadcast_to(arr, (n,)) for name, arr in arrays.items()}


def _cell(x) -> str:
    if isinstance(x, (float, np.floating)):
        return repr(float(x))          # shortest exact form; nan, inf as such
    text = str(x.item() if isinstance(x, np.generic) else x)
    if any(c in text for c in ',"\n'):
        text = '"' + text.replace('"', '""') + '"'     # RFC 4180 quoting
    return text


def write_csv(path: Path | str, *tables: Mapping[str, object]) -> Path:
    """Write one or more tables ({name: values}, the same names in each) as one CSV file,
    their rows one after the other, and return the path.

    Values are 1-d sequences of one common length per table, or scalars (repeated on each of
    the table's rows); floats are written in their shortest exact (round-trip) form, other
    values as text. Raises ValueError for arrays of more than one dimension, columns of
    different lengths, or tables with different column names.
    """
    if not tables:
        raise ValueError("write_csv needs at least one table")
    parts = [_rows(t) for t in tables]
    names = list(parts[0])
    if any(list(p) != names for p in parts[1:]):
        raise ValueError(f"tables have different columns: {[list(p) for p in parts]}")
    lines = [",".join(names)]
    for part in parts:
        cols = list(part.values())
        lines += [",".join(_cell(c[i]) for c in cols) for i in range(len(cols[0]))]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_config(path: Path | str, cfg) -> Path:
    """Write the configuration ``cfg`` as TOML (``python -m metarep ode|sim --config`` reads
    it back) and return the path."""
    path = Path(path)
    path.write_text(cfg.to_toml())
    return path


__all__ = ["ROOT", "folder", "write_csv", "write_config"]
