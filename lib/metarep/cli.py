"""Command line: ``python -m metarep {ode,sim} [--config F.toml] [--set key=value ...]``.

``ode`` integrates the order-parameter equations, ``sim`` runs the microscopic simulation
over several seeds, ``sweep`` runs a grid of either over devices and jobs into a results
folder, ``cache`` shows the persistent compilation cache. Both write a table (``--out``: ``.csv`` per SPEC §4, or ``.npz``), with the
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
    add_sweep_parser(sub)
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


def run_sweep(args: argparse.Namespace) -> None:
    """``sweep run``: a grid of ODE integrations or simulations into a results folder, over
    all local devices, one shard of chunks per job, resumable; ``sweep merge DIR``: one
    table of all chunks (see :mod:`metarep.gridsweep`)."""
    from metarep import gridsweep

    if args.action == "merge":
        print(f"wrote {gridsweep.merge(Path(args.dir), force=args.force)}", file=sys.stderr)
        return
    cfg = _config(args)
    shard = gridsweep.parse_shard(args.shard)
    p = gridsweep.plan(args.kind, cfg, gridsweep.parse_grid(args.grid), seeds=args.seeds,
                       chunk=args.chunk, eg_method=args.eg_method.replace("-", "_"))
    import jax

    devices = jax.local_devices()[:args.devices] if args.devices else None
    done = gridsweep.run(p, Path(args.out), shard, devices, force=args.force,
                         progress=not args.quiet)
    left = gridsweep.missing(Path(args.out))
    print(f"{args.out}: {len(done['computed'])} chunks computed, {len(done['skipped'])} "
          f"already there (shard {shard[0]}/{shard[1]}); {len(left)} of {p.n_chunks} chunks "
          f"missing in all" + ("" if left else f"; merge with: python -m metarep sweep merge "
                                               f"{args.out}"), file=sys.stderr)


def add_sweep_parser(sub) -> None:
    sw = sub.add_parser("sweep", help="a grid of runs over devices and jobs, into a folder")
    actions = sw.add_subparsers(dest="action", required=True)
    r = actions.add_parser("run", help="compute the grid (or this job's shard of it)")
    r.add_argument("--kind", choices=("ode", "sim"), default="ode",
                   help="order-parameter ODE (default) or simulation")
    r.add_argument("--grid", action="append", required=True, metavar="KEY=VALUES",
                   help="a grid axis, repeatable: key=v1,v2,... or key=start:stop:num")
    r.add_argument("--config", help="TOML file with the base configuration")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one key of the base configuration (repeatable)")
    r.add_argument("--out", required=True, help="results folder (created, or resumed)")
    r.add_argument("--seeds", type=int, default=1, help="seeds per point (sim)")
    r.add_argument("--eg-method", choices=("mc", "closed-form"), default="mc",
                   help="meta-test error of simulations (see sim --eg-method)")
    r.add_argument("--chunk", type=int, default=64, help="grid points per table (default 64)")
    r.add_argument("--shard", default="0/1", metavar="I/N",
                   help="compute only chunks j with j mod N = I (job I of N), default 0/1")
    r.add_argument("--devices", type=int, default=0,
                   help="use the first D local devices (default: all)")
    r.add_argument("--force", action="store_true",
                   help="replace the results of another sweep in --out")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    m = actions.add_parser("merge", help="concatenate the chunks into DIR/results.csv")
    m.add_argument("dir", help="results folder")
    m.add_argument("--force", action="store_true", help="replace a different results.csv")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        {"ode": run_ode, "sim": run_sim, "cache": run_cache,
         "sweep": run_sweep}[args.command](args)
    except (ConfigError, DivergenceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
