"""Command line: ``python -m metarep {ode,sim} [--config F.toml] [--set key=value ...]``.

``ode`` integrates the order-parameter equations, ``sim`` runs the microscopic simulation
over several seeds. Both write a table (``--out``: ``.csv`` or ``.npz``), with the
configuration beside it, and optionally the overview figure (``--plot``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metarep.config import Config
from metarep.errors import ConfigError, DivergenceError
from metarep.trajectory import Trajectory


def _config(args: argparse.Namespace) -> Config:
    cfg = Config.from_toml(args.config) if args.config else Config()
    return cfg.with_overrides(args.set or [])


def _save(traj: Trajectory, out: str | None) -> None:
    if out is None:
        return
    path = Path(out)
    (traj.to_npz if path.suffix == ".npz" else traj.to_csv)(path)
    print(f"wrote {path}", file=sys.stderr)


def _plot(path: str | None, ode: Trajectory | None, sim: Trajectory | None) -> None:
    if path is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    from metarep.plotting import plot_overview

    plot_overview(ode, sim).savefig(path)
    print(f"wrote {path}", file=sys.stderr)


def run_ode(args: argparse.Namespace) -> None:
    cfg = _config(args)
    from metarep.ode import integrate

    traj = integrate(cfg)
    _save(traj, args.out)
    _plot(args.plot, traj, None)


def run_sim(args: argparse.Namespace) -> None:
    cfg = _config(args)
    from metarep.simulator import simulate

    sim = simulate(cfg, seeds=args.seeds, progress=not args.quiet)
    _save(sim, args.out)
    ode = None
    if args.compare_ode:
        from metarep.ode import integrate

        ode = integrate(cfg)
    _plot(args.plot, ode, sim)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m metarep", description="metarep: order-parameter theory (ode) and microscopic simulation (sim) "
                                "of online meta-learning in the teacher-student scenario")
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (("ode", "integrate the order-parameter ODEs (N → ∞ theory)"),
                           ("sim", "simulate the microscopic process at finite N")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--config", help="TOML file with configuration keys (see the book's appendix Reproducing)")
        s.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override one key (repeatable), e.g. --set eta_in=0.5")
        s.add_argument("--out", help="output table: .csv or .npz")
        s.add_argument("--plot", help="write the overview figure to this file (.png, .pdf)")
    sim = sub.choices["sim"]
    sim.add_argument("--seeds", type=int, default=1, help="number of seeds (seed, seed+1, …)")
    sim.add_argument("--compare-ode", action="store_true",
                     help="draw the ODE with the same configuration on the figure")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        {"ode": run_ode, "sim": run_sim}[args.command](args)
    except (ConfigError, DivergenceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
