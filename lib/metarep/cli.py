"""Command line: ``python -m metarep {ode,sim} [--config F.toml] [--set key=value ...]``.

``ode`` integrates the order-parameter equations, ``sim`` runs the microscopic simulation
over several seeds. Both write a table (``--out``: ``.csv`` per SPEC §4, or ``.npz``), with the
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

    sim = simulate(cfg, seeds=args.seeds, progress=not args.quiet,
                   eg_method=args.eg_method.replace("-", "_"))
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
        s.add_argument("--config", help="TOML file with configuration keys (SPEC §4)")
        s.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override one key (repeatable), e.g. --set eta_in=0.5")
        s.add_argument("--out", help="output table: .csv (SPEC §4 columns) or .npz")
        s.add_argument("--plot", help="write the overview figure to this file (.png, .pdf)")
    sim = sub.choices["sim"]
    sim.add_argument("--seeds", type=int, default=1, help="number of seeds (seed, seed+1, …)")
    sim.add_argument("--compare-ode", action="store_true",
                     help="draw the ODE with the same configuration on the figure")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.add_argument("--eg-method", choices=("mc", "closed-form"), default="mc",
                     help="meta-test error at each record: Monte-Carlo estimate (mc, default) "
                          "or its exact value from the measured overlaps (closed-form; "
                          "support = inf and teacher_spread = 0 only, much faster)")
    add_cache_parser(sub)
    return p


def run_cache(args: argparse.Namespace) -> None:
    """``cache``: where the persistent compilation caches live, their size; ``--clear``."""
    import shutil

    from metarep import compile_cache

    root = compile_cache.root()
    files, size = compile_cache.size(root)
    state = "on" if compile_cache.enabled_by_environment() else \
        f"off ({compile_cache.ENV_SWITCH}={compile_cache.os.environ[compile_cache.ENV_SWITCH]})"
    print(f"compilation cache: {state}\nroot: {root}\nthis machine and software: "
          f"{compile_cache.folder()}\n{files} files, {size / 2**20:.1f} MiB")
    if args.clear and root.is_dir():
        shutil.rmtree(root)
        print(f"removed {root}")


def add_cache_parser(sub) -> None:
    c = sub.add_parser("cache", help="show (or --clear) the persistent compilation caches")
    c.add_argument("--clear", action="store_true", help="delete the whole cache folder")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        {"ode": run_ode, "sim": run_sim, "cache": run_cache}[args.command](args)
    except (ConfigError, DivergenceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
