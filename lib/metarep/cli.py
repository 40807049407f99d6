"""The command line: ``metarep COMMAND …`` (also ``python -m metarep COMMAND …``).

``ode`` integrates the order-parameter equations, ``sim`` runs the microscopic simulation over
several seeds, ``plot`` redraws a saved table, ``keys`` lists the configuration keys,
``sweep`` runs a grid of either over devices and jobs into a results folder and ``cache``
shows the persistent compilation cache. The appendix *Reproducing and rerunning* (``book/reproducing.md``) documents them.

Every check that does not need the computation comes before it: the configuration (file
values merged with ``--set`` overrides, then validated), the output paths (writable folders,
nothing overwritten without ``--force``, inputs never), the figure format, the availability of
the theory for ``--compare-ode`` and the memory estimate (:mod:`metarep.footprint`). An
ordinary mistake ends with one line ``error: …`` and exit status 2; Ctrl-C ends with status 130
after saving the records that ``sim`` completed, marked as partial.

Subcommands are the entries of :data:`COMMANDS`: a new one is a :class:`Command` (help text,
a function adding its arguments, a function running it) added to that table.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from metarep.config import KEY_HELP, Config, file_values, parse_overrides
from metarep.errors import ConfigError, DivergenceError, Interrupted
from metarep.trajectory import Trajectory, config_path

#: Exit status of an ordinary mistake (as argparse's own usage errors) and of Ctrl-C.
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

COLUMNS = """\
tables (--out): .csv (or .npz, the same arrays and the configuration in one file); one row
per record (and per seed for sim), with the columns
  alpha             time α = tasks / N
  eg                meta-test error ε_g (sim: Monte-Carlo estimate over fresh tasks)
  Q_i_j (i <= j)    Q = W Wᵀ/N, overlaps of the meta-learner's units (indices from 0)
  R_i_m             R = W Bᵀ/N, overlaps with the meta-teacher's units
  a_i               head initialisation
  eg_noadapt        (ode) error of the head initialisation without adaptation
  eg_oracle         (ode) error with the best head for each task (the body's limit)
  specialization    (ode) specialization index s in [0, 1] (0: plateau, 1: specialized)
  eg_sem            (sim) standard error of the Monte-Carlo estimate eg
  T_m_n (m <= n)    T = B Bᵀ/N, overlaps of the meta-teacher's units
  seed              (sim) the seed of the row
The configuration of a .csv table is written beside it as STEM.config.toml, with a [run]
table: the command, seeds, versions, and whether the run was interrupted (partial).
Without --out or --plot nothing is saved. Existing files are replaced only with --force,
and never the --config file.

Configuration keys: `metarep keys`. The book's appendix "Reproducing and rerunning"
(book/reproducing.md) has the details."""


@dataclass(frozen=True)
class Command:
    """One subcommand: its one-line ``help``, ``arguments(parser)`` adding its options, and
    ``run(args)`` returning the exit status; ``epilog`` ends its ``--help``."""

    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    epilog: str = ""


# -- configuration ------------------------------------------------------------------------------

def load_config(args: argparse.Namespace) -> Config:
    """The configuration of ``--config`` (defaults without it) with the ``--set`` overrides
    merged into the file's values before validation."""
    values = file_values(args.config) if args.config else {}
    if args.config and not values:
        _note(f"note: {args.config} sets no key: every key has its default (`metarep keys`)")
    return Config.from_dict({**values, **parse_overrides(args.set or [])})


# -- outputs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outputs:
    """Files a command will write: ``table`` (.csv or .npz), ``config`` (beside a .csv
    table) and ``plot``; None when not asked for."""

    table: Path | None = None
    config: Path | None = None
    plot: Path | None = None

    @property
    def files(self) -> list[Path]:
        return [path for path, _ in self.named()]

    def named(self) -> list[tuple[Path, str]]:
        """(path, what it is) of each file to write."""
        named = ((self.table, "the table"), (self.config, "the table's configuration"),
                 (self.plot, "the figure"))
        return [(path, what) for path, what in named if path is not None]


def _figure_formats() -> dict[str, str]:
    from matplotlib.backend_bases import FigureCanvasBase

    return FigureCanvasBase.get_supported_filetypes()


def plan_outputs(table: str | None, plot: str | None, inputs: dict[Path, str],
                 force: bool) -> Outputs:
    """The files to write, checked before anything is computed.

    ``inputs``: the files the command reads, with what they are (e.g. ``"--config"``).
    Raises ConfigError when: an output is a folder; a table is named ``.toml`` (the format
    of configurations); the figure's extension is not a format of matplotlib; two outputs
    coincide or one of them is an input (even with ``force``); an output exists (without
    ``force``); its folder does not exist or is not writable (tested by creating a file).
    """
    for option, name in (("--out", table), ("--plot", plot)):
        if name is not None and Path(name).is_dir():
            raise ConfigError(f"{option} {name} is a folder: name a file to write")
    out = Outputs()
    if table is not None:
        path = Path(table)
        if path.suffix.lower() == ".toml":
            raise ConfigError(f"--out {table}: a table is .csv or .npz, not .toml (the format "
                              "of configurations: a .csv table's configuration is written "
                              "beside it as STEM.config.toml)")
        out = Outputs(path, None if path.suffix == ".npz" else config_path(path))
    if plot is not None:
        path = Path(plot)
        formats = _figure_formats()
        if path.suffix.lower().lstrip(".") not in formats:
            raise ConfigError(f"--plot {plot}: the figure's format is named by its extension, "
                              f"one of {', '.join('.' + f for f in sorted(formats))}")
        out = Outputs(out.table, out.config, path)
    seen: dict[Path, str] = {}
    sources = {p.resolve(): role for p, role in inputs.items()}
    for path, role in out.named():
        real = path.resolve()
        if real in sources:
            raise ConfigError(f"{path} is read by this command ({sources[real]}) and is never "
                              "overwritten: choose another output name")
        if real in seen:
            raise ConfigError(f"{path} would be written twice ({seen[real]} and {role}): "
                              "choose different names for --out and --plot")
        seen[real] = role
        if path.is_dir():
            raise ConfigError(f"{path} is a folder: choose another output name")
        if path.exists() and not force:
            raise ConfigError(f"{path} exists: use --force to replace it, or choose another "
                              "name")
        _check_writable(path)
    return out


def _check_writable(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"cannot write {path}: {str(folder)!r} "
                          + ("is not a folder" if folder.exists() else "does not exist"))
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".metarep-probe-"):
            pass
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror or err} (in {str(folder)!r})"
                          ) from None
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"cannot write {path}: permission denied")


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _nothing_saved(out: Outputs) -> None:
    if not out.files:
        _note("note: without --out or --plot nothing is saved")


def provenance(args: argparse.Namespace, traj: Trajectory, planned: int) -> dict:
    """The ``[run]`` table of a written configuration: command line, seeds, records and
    whether the run was interrupted (``partial``), versions of metarep, JAX and Python."""
    import jax

    from metarep import __version__

    run = {"command": shlex.join([args.prog, *args.argv])}
    if traj.has_seeds:
        run["seeds"] = [int(s) for s in traj.seeds]
    run.update(records=len(traj.alpha), planned_records=planned,
               partial=len(traj.alpha) < planned, metarep=__version__, jax=jax.__version__,
               python=platform.python_version())
    return run


@contextmanager
def _into_place(target: Path, *companions: Path):
    """Yield a temporary path to write ``target`` (and ``companions``, files of the same
    folder that the writer puts beside it); when the writing succeeds, move each into place
    (an atomic rename), so that an interrupted or failed write leaves no half-written file and
    does not destroy the file it replaces."""
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".metarep-"))
    try:
        yield tmp / target.name
        for path in (target, *companions):
            os.replace(tmp / path.name, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _wrote(args: argparse.Namespace, *paths: Path) -> None:
    args.written += paths
    _note("wrote " + " and ".join(map(str, paths)))


def save_table(args: argparse.Namespace, traj: Trajectory, out: Outputs, run: dict) -> None:
    """Write the table (and beside a .csv its configuration, with ``run``) if asked for."""
    if out.table is None:
        return
    companions = () if out.config is None else (out.config,)
    with _into_place(out.table, *companions) as tmp:
        (traj.to_npz if out.table.suffix == ".npz" else traj.to_csv)(tmp, run)
    _wrote(args, out.table, *companions)


# -- figures -------------------------------------------------------------------------------------

def aligned(sim: Trajectory, theory: bool) -> tuple[Trajectory | None, Trajectory]:
    """(theory, simulation) of a simulation with seeds, units in canonical labels.

    The theory (if asked for) is the ODE started from each seed's own initial state, one run
    per seed; both sides are relabelled by
    :func:`metarep.alignment.canonical_units` (unit k ends aligned with teacher unit k,
    with a positive cosine) so that seeds that specialized with different permutations and
    signs can be averaged and compared.
    """
    from metarep.alignment import canonical_units
    from metarep.ode import integrate_seeds

    th = None
    if theory:
        th = canonical_units(integrate_seeds(sim.config, sim.seeds, sim.alpha))
    return th, canonical_units(sim)


def draw(args: argparse.Namespace, traj: Trajectory, path: Path, compare_ode: bool) -> None:
    """The overview figure of a table: an ODE run as lines; a simulation (units aligned) as
    seed means ± s.e., with the seed-averaged theory of :func:`aligned` if ``compare_ode``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metarep.plotting import plot_overview

    if traj.has_seeds:
        theory, sim = aligned(traj, compare_ode)
        fig = plot_overview(None if theory is None else theory.seed_mean(), sim)
    else:
        fig = plot_overview(traj)
    with _into_place(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    _wrote(args, path)


def summary(name: str, traj: Trajectory) -> str:
    """One line: the meta-test error at the first and last record (seed mean ± s.e.)."""
    if traj.has_seeds:
        mean, sem = traj.seed_mean().eg, traj.seed_sem().eg
        ends = [f"{mean[i]:.4g} ± {sem[i]:.2g}" for i in (0, -1)]
        who = f"{len(traj.seeds)} seed{'s' if len(traj.seeds) > 1 else ''}, "
    else:
        ends, who = [f"{traj.eg[i]:.4g}" for i in (0, -1)], ""
    return (f"{name}: {who}{len(traj.alpha)} records, meta-test error {ends[0]} at "
            f"α = {traj.alpha[0]:g}, {ends[1]} at α = {traj.alpha[-1]:g}")


# -- commands -----------------------------------------------------------------------------------

def _config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE.toml",
                   help="configuration file of `key = value` lines (keys: `metarep keys`); "
                        "without it, every key has its default")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one key of the file (repeatable), e.g. --set eta_in=0.5")


def _output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="TABLE",
                   help="write the table: .csv (configuration beside it as STEM.config.toml) "
                        "or .npz")
    p.add_argument("--plot", metavar="FIGURE",
                   help="write the overview figure (format by extension: .png, .pdf, .svg, …)")
    p.add_argument("--force", action="store_true",
                   help="replace existing output files (never the --config file)")


def _plan(args: argparse.Namespace) -> Outputs:
    """:func:`plan_outputs` of ``--out``, ``--plot`` and ``--force``, the ``--config`` file
    being the input."""
    inputs = {Path(args.config): "--config"} if args.config else {}
    return plan_outputs(args.out, args.plot, inputs, args.force)


def _ode_arguments(p: argparse.ArgumentParser) -> None:
    _config_arguments(p)
    _output_arguments(p)


def run_ode(args: argparse.Namespace) -> int:
    """``metarep ode``: checks, the integration, the table and figure, a summary line."""
    from metarep.footprint import check, ode_footprint

    cfg = load_config(args)
    out = _plan(args)
    check(ode_footprint(cfg, csv=out.config is not None), "ode")
    _nothing_saved(out)
    from metarep.ode import integrate

    traj = integrate(cfg)
    save_table(args, traj, out, provenance(args, traj, len(traj.alpha)))
    if out.plot is not None:
        draw(args, traj, out.plot, compare_ode=False)
    print(summary("ode", traj))
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def _eg_tasks(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or value == 1:
        raise argparse.ArgumentTypeError(f"must be 0 (no estimate) or an integer >= 2, "
                                         f"got {text!r}")
    return value


def _sim_arguments(p: argparse.ArgumentParser) -> None:
    from metarep.simulator import EG_TASKS

    _config_arguments(p)
    _output_arguments(p)
    p.add_argument("--seeds", type=_positive, default=1, metavar="S",
                   help="number of seeds: seed, seed + 1, …, seed + S − 1 (default 1)")
    p.add_argument("--compare-ode", action="store_true",
                   help="draw the theory on the figure: the ODE from each seed's initial "
                        "state, units aligned (canonical labels) before averaging")
    p.add_argument("--eg-tasks", type=_eg_tasks, default=EG_TASKS, metavar="T",
                   help=f"fresh tasks of the Monte-Carlo meta-test error at each record "
                        f"(default {EG_TASKS}; 0 skips it: eg = nan)")
    p.add_argument("--eg-method", choices=("mc", "closed-form"), default="mc",
                   help="meta-test error at each record: Monte-Carlo estimate (mc, default) "
                        "or its exact value from the measured overlaps (closed-form; "
                        "support = inf and teacher_spread = 0 only, much faster)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_sim(args: argparse.Namespace) -> int:
    """``metarep sim``: checks, the simulation (partial records kept on Ctrl-C), the table
    and figure (with the aligned theory for ``--compare-ode``), a summary line."""
    from metarep.footprint import check, sim_footprint

    cfg = load_config(args)
    from metarep.simulator import check_eg_method

    check_eg_method(cfg, args.eg_method.replace("-", "_"))
    if args.compare_ode:
        if args.plot is None:
            raise ConfigError("--compare-ode draws the theory on the figure: add --plot FIGURE")
    out = _plan(args)
    check(sim_footprint(cfg, args.seeds, args.eg_tasks, args.compare_ode,
                        csv=out.config is not None), "sim")
    _nothing_saved(out)
    from metarep.simulator import record_steps, simulate

    planned = len(record_steps(cfg))
    try:
        sim = simulate(cfg, seeds=args.seeds, progress=not args.quiet, eg_tasks=args.eg_tasks,
                       eg_method=args.eg_method.replace("-", "_"))
    except DivergenceError as err:
        if err.partial is not None and out.table is not None:
            save_table(args, err.partial, out, provenance(args, err.partial, planned))
            _note(f"saved the {len(err.partial.alpha)} of {planned} records completed before "
                  "the divergence, marked partial")
        raise
    except Interrupted as stop:
        sim = stop.partial
        save_table(args, sim, out, provenance(args, sim, planned))
        kept = (f"saved the {len(sim.alpha)} of {planned} records completed (up to "
                f"α = {sim.alpha[-1]:g}), marked partial" if out.table is not None
                else f"{len(sim.alpha)} of {planned} records were completed; nothing saved "
                     "(no --out)")
        _note(f"interrupted: {kept}")
        return EXIT_INTERRUPTED
    save_table(args, sim, out, provenance(args, sim, planned))
    if out.plot is not None:
        draw(args, sim, out.plot, args.compare_ode)
    print(summary("sim", sim))
    return 0


def _plot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("table", metavar="TABLE",
                   help="a table written by `metarep ode|sim --out` (.csv with its "
                        ".config.toml, or .npz)")
    p.add_argument("--plot", metavar="FIGURE",
                   help="the figure to write (default: TABLE with the extension .png)")
    p.add_argument("--compare-ode", action="store_true",
                   help="(simulation tables) draw the theory: the ODE from each seed's "
                        "initial state, units aligned")
    p.add_argument("--force", action="store_true", help="replace an existing figure")


def run_plot(args: argparse.Namespace) -> int:
    """``metarep plot``: read a table (and its configuration), check, draw."""
    from metarep.trajectory import provenance as table_provenance
    from metarep.trajectory import read_table

    table = Path(args.table)
    if not table.is_file():
        raise ConfigError(f"table {str(table)!r} " + ("is a folder" if table.is_dir()
                                                      else "does not exist"))
    try:
        traj = read_table(table)
        run = table_provenance(table)
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"cannot read the table {table}: {err}") from None
    if args.compare_ode:
        if not traj.has_seeds:
            raise ConfigError(f"--compare-ode: {table} is an ODE table, already the theory")
        if traj.config is None:
            raise ConfigError(f"--compare-ode needs the configuration of {table} "
                              f"({config_path(table).name} beside it)")
        if traj.alpha[0] != 0:
            raise ConfigError(f"--compare-ode needs the records of {table} to start at α = 0 "
                              f"(the theory starts from each seed's initial state), not at "
                              f"α = {traj.alpha[0]:g}")
        from metarep.footprint import check, theory_footprint

        check(theory_footprint(traj.config, len(traj.seeds)), "plot --compare-ode")
    inputs = {table: "the table", config_path(table): "the table's configuration"}
    figure = args.plot if args.plot is not None else str(table.with_suffix(".png"))
    out = plan_outputs(None, figure, inputs, args.force)
    if run.get("partial"):
        _note(f"note: {table} is partial: the run was interrupted after "
              f"{run.get('records')} of {run.get('planned_records')} records")
    draw(args, traj, out.plot, args.compare_ode)
    return 0


def run_keys(args: argparse.Namespace) -> int:
    """``metarep keys``: every configuration key, its default and its meaning."""
    defaults = Config().to_dict()
    width = max(map(len, KEY_HELP))
    shown = {k: "(unset)" if v is None else repr(v) if isinstance(v, str) else str(v)
             for k, v in defaults.items()}
    dwidth = max(map(len, shown.values()))
    print(f"{'key':<{width}}  {'default':<{dwidth}}  meaning")
    for key, text in KEY_HELP.items():
        print(f"{key:<{width}}  {shown[key]:<{dwidth}}  {text}")
    return 0


def run_cache(args: argparse.Namespace) -> int:
    """``metarep cache``: where the persistent compilation caches live, their size;
    ``--clear`` deletes them."""
    from metarep import compile_cache

    root = compile_cache.root()
    files, size = compile_cache.size(root)
    state = "on" if compile_cache.enabled_by_environment() else \
        f"off ({compile_cache.ENV_SWITCH}={os.environ[compile_cache.ENV_SWITCH]})"
    print(f"compilation cache: {state}\nroot: {root}\nthis machine and software: "
          f"{compile_cache.folder()}\n{files} files, {size / 2**20:.1f} MiB")
    if args.clear and root.is_dir():
        shutil.rmtree(root)
        print(f"removed {root}")
    return 0


def _cache_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clear", action="store_true", help="delete the whole cache folder")


def run_sweep(args: argparse.Namespace) -> int:
    """``metarep sweep run``: a grid of ODE integrations or simulations into a results
    folder, over all local devices, one shard of chunks per job, resumable; ``sweep merge
    DIR``: one table of all chunks (see :mod:`metarep.gridsweep`)."""
    from metarep import gridsweep

    if args.action == "merge":
        _note(f"wrote {gridsweep.merge(Path(args.dir), force=args.force)}")
        return 0
    cfg = load_config(args)
    shard = gridsweep.parse_shard(args.shard)
    p = gridsweep.plan(args.kind, cfg, gridsweep.parse_grid(args.grid), seeds=args.seeds,
                       chunk=args.chunk, eg_method=args.eg_method.replace("-", "_"),
                       eg_tasks=args.eg_tasks)
    import jax

    devices = jax.local_devices()[:args.devices] if args.devices else None
    done = gridsweep.run(p, Path(args.out), shard, devices, force=args.force,
                         progress=not args.quiet)
    left = gridsweep.missing(Path(args.out))
    _note(f"{args.out}: {len(done['computed'])} chunks computed, {len(done['skipped'])} "
          f"already there (shard {shard[0]}/{shard[1]}); {len(left)} of {p.n_chunks} chunks "
          f"missing in all" + ("" if left else f"; merge with: {args.prog} sweep merge "
                                               f"{args.out}"))
    return 0


def _sweep_arguments(sw: argparse.ArgumentParser) -> None:
    actions = sw.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = actions.add_parser("run", help="compute the grid (or this job's shard of it)")
    r.add_argument("--kind", choices=("ode", "sim"), default="ode",
                   help="order-parameter ODE (default) or simulation")
    r.add_argument("--grid", action="append", required=True, metavar="KEY=VALUES",
                   help="a grid axis, repeatable: key=v1,v2,... or key=start:stop:num")
    _config_arguments(r)
    r.add_argument("--out", required=True, help="results folder (created, or resumed)")
    r.add_argument("--seeds", type=_positive, default=1, help="seeds per point (sim)")
    r.add_argument("--eg-method", choices=("mc", "closed-form"), default="mc",
                   help="meta-test error of simulations (see sim --eg-method)")
    r.add_argument("--eg-tasks", type=_eg_tasks, default=None, metavar="T",
                   help="Monte-Carlo tasks of the simulations' meta-test error (see sim "
                        "--eg-tasks)")
    r.add_argument("--chunk", type=_positive, default=64,
                   help="grid points per table (default 64)")
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


#: The subcommands, in the order of ``--help``.
COMMANDS: dict[str, Command] = {
    "ode": Command("integrate the order-parameter ODEs (the theory, N → ∞)",
                   run_ode, _ode_arguments, COLUMNS),
    "sim": Command("simulate the microscopic process at finite N over several seeds",
                   run_sim, _sim_arguments, COLUMNS),
    "plot": Command("redraw the overview figure of a saved table (.csv or .npz)",
                    run_plot, _plot_arguments),
    "keys": Command("list the configuration keys with their defaults and meaning", run_keys),
    "sweep": Command("a grid of ODE runs or simulations over devices and jobs, into a folder",
                     run_sweep, _sweep_arguments),
    "cache": Command("show (or --clear) the persistent compilation caches",
                     run_cache, _cache_arguments),
}


def parser(prog: str = "metarep") -> argparse.ArgumentParser:
    """The argument parser of every command in :data:`COMMANDS`."""
    from metarep import __version__

    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="metarep: order-parameter theory (ode) and microscopic simulation (sim)\n"
                    "of online meta-learning in the teacher-student scenario",
        epilog=f"example:\n  {prog} ode --config examples/basic.toml --out traj.csv "
               f"--plot traj.png\n\nSee `{prog} COMMAND --help`, and the book's appendix "
               "\"Reproducing and rerunning\" (book/reproducing.md).")
    p.add_argument("--version", action="version", version=_version(__version__))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        s = sub.add_parser(name, help=command.help, description=command.help,
                           epilog=command.epilog or None,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if command.arguments is not None:
            command.arguments(s)
    return p


def _version(version: str) -> str:
    import jax

    return f"metarep {version} (jax {jax.__version__}, Python {platform.python_version()})"


def main(argv: list[str] | None = None, prog: str = "metarep") -> int:
    """Run one command (``argv``: the arguments, default ``sys.argv[1:]``; ``prog``: the name
    in messages); returns the exit status: 0, 2 for an error, 130 after Ctrl-C."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser(prog).parse_args(argv)
    except SystemExit as done:              # --help, --version, or a usage error (status 2)
        return done.code
    args.prog, args.argv, args.written = prog, argv, []
    try:
        return COMMANDS[args.command].run(args)
    except (ConfigError, DivergenceError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as err:                  # a write that failed after the checks
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        done = ", ".join(map(str, args.written)) or "nothing"
        print(f"interrupted: saved {done}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())
