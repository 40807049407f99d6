"""The command line (`metarep ode|sim|plot|keys`): safe outputs, errors before any
computation, partial records on Ctrl-C, and an aligned, statistically sound comparison of the
simulation with the theory.

The bad-input cases are those of the review of the command line tried as a new user (numbered
as there); each must end with one line `error: …` and exit status 2, write nothing, and
compute nothing (the ODE and the simulator are replaced by functions that fail the test).
Every simulation in this process has one shape (N = 200 or 100, K = M = 2, 12 seeds, 1024
Monte-Carlo tasks), so that JAX compiles the simulator once per N.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from metarep import cli
from metarep.cli import main
from metarep.config import Config
from metarep.trajectory import Trajectory, config_path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "basic.toml"
BASE = "K = 2\nM = 2\nN = 200\nalpha_max = 2.0\nrecord_every = 1.0\n"


def _sets(**values) -> list[str]:
    return [arg for k, v in values.items() for arg in ("--set", f"{k}={v}")]


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A scratch folder as the working directory, holding base.toml."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.toml").write_text(BASE)
    return tmp_path


@pytest.fixture
def no_compute(monkeypatch):
    """The ODE, the simulator and the per-seed theory fail the test if called."""
    import metarep.ode
    import metarep.simulator

    def computed(*args, **kwargs):
        raise AssertionError("computation started before the error")

    for module, name in ((metarep.ode, "integrate"), (metarep.simulator, "simulate"),
                         (metarep.ode, "integrate_seeds")):
        monkeypatch.setattr(module, name, computed)


def test_example_config_is_valid():
    cfg = Config.from_toml(EXAMPLE)
    assert (cfg.K, cfg.M, cfg.P) == (2, 2, None)


# -- bad input: one line, status 2, nothing computed or written -------------------------------

#: (review case, files to create {name: text, or None for a folder}, argv, expected message)
BAD_INPUT = [
    ("9 huge K", {"case.toml": BASE.replace("K = 2", "K = 99999999999999999")},
     ["ode", "--config", "case.toml"], r"would need about .* TB of memory.*reduce K"),
    ("35 ragged Q0",
     {"case.toml": BASE + "Q0 = [[1.0, 0.0], [0.0]]\nR0 = [[0.0, 0.0], [0.0, 0.0]]\n"},
     ["ode", "--config", "case.toml"], r"Q0 = .* not a number or a \(rectangular\) array"),
    ("36 Q0 text", {"case.toml": BASE + 'Q0 = "identity"\nR0 = [[0.0, 0.0], [0.0, 0.0]]\n'},
     ["ode", "--config", "case.toml"], r"Q0 = 'identity' is not a number"),
    ("39 v_mean text", {"case.toml": BASE + 'v_mean = "one"\n'},
     ["sim", "--config", "case.toml"], r"v_mean = 'one' is not a number"),
    ("48 missing value", {"case.toml": "eta = \n"},
     ["ode", "--config", "case.toml"], r"case\.toml: invalid TOML: .*line 1, column 7"),
    ("49 duplicate key", {"case.toml": "eta = 1.0\neta = 2.0\n"},
     ["ode", "--config", "case.toml"], r"case\.toml: invalid TOML: .*line 2"),
    ("50 missing file", {}, ["ode", "--config", "nope.toml"], r"'nope\.toml' does not exist"),
    ("51 folder as config", {"adir": None}, ["sim", "--config", "adir"], r"'adir' is a folder"),
    ("52 table as config", {"r.csv": "alpha,eg\n0.0,0.4\n"},
     ["ode", "--config", "r.csv"], r"r\.csv: invalid TOML.*looks like a table"),
    ("53 missing output folder", {}, ["ode", "--config", "base.toml", "--out",
                                      "no/such/dir/r.csv"], r"'no/such/dir' does not exist"),
    ("54 missing figure folder", {}, ["sim", "--config", "base.toml", "--plot",
                                      "no/such/dir/r.png"], r"'no/such/dir' does not exist"),
    ("56 output is a folder", {"adir": None},
     ["ode", "--config", "base.toml", "--out", "adir"], r"--out adir is a folder"),
    ("57 configuration of another table", {"r.config.toml": BASE},
     ["ode", "--config", "base.toml", "--out", "r.txt"], r"r\.config\.toml exists: use --force"),
    ("57b existing table", {"r.csv": "alpha\n"},
     ["sim", "--config", "base.toml", "--out", "r.csv"], r"r\.csv exists: use --force"),
    ("59 table named .toml", {}, ["ode", "--config", "base.toml", "--out", "out.toml"],
     r"a table is \.csv or \.npz, not \.toml"),
    ("60 output over the input", {"run.config.toml": BASE},
     ["ode", "--config", "run.config.toml", "--out", "run.csv", "--force"],
     r"run\.config\.toml is read by this command \(--config\) and is never overwritten"),
    ("61 unknown figure format", {}, ["sim", "--config", "base.toml", "--plot", "r.xyz"],
     r"--plot r\.xyz: the figure's format is named by its extension, one of .*\.png"),
    ("61b figure without extension", {}, ["ode", "--plot", "figure"],
     r"--plot figure: the figure's format"),
    ("63b table and figure the same file", {}, ["ode", "--out", "a.png", "--plot", "a.png"],
     r"a\.png would be written twice \(the table and the figure\)"),
    ("83b compare-ode without a figure", {},
     ["sim", "--config", "base.toml", "--compare-ode"], r"--compare-ode draws .* add --plot"),
    ("85 huge N (sim)", {}, ["sim", "--config", "base.toml", "--set", "N=1000000000"],
     r"sim would need about .* GB of memory.*training state.*reduce N or --seeds"),
    ("87 K = 1000 (ode)", {}, ["ode", "--set", "K=1000"],
     r"ode would need about .* TB.*noise term.*reduce K"),
    ("plot: missing table", {}, ["plot", "nope.csv"], r"table 'nope\.csv' does not exist"),
    ("plot: not a table", {"r.csv": "a,b\n1,2\n"}, ["plot", "r.csv"],
     r"cannot read the table r\.csv: .*no column 'alpha'"),
]


def _create(folder: Path, files: dict) -> None:
    for name, text in files.items():
        if text is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_text(text)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("case, files, argv, message", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_one_line_before_any_computation(work, no_compute, capsys, case, files,
                                                     argv, message):
    _create(work, files)
    before = sorted(p.name for p in work.iterdir())
    assert main(argv) == 2
    assert re.search(message, _error_line(capsys)), case
    assert sorted(p.name for p in work.iterdir()) == before     # nothing written


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_unwritable_output_folder(work, no_compute, capsys):
    """Case 55: /proc takes no new files, even for root (tested by creating one)."""
    assert main(["ode", "--config", "base.toml", "--out", "/proc/metarep.csv"]) == 2
    assert "cannot write /proc/metarep.csv" in _error_line(capsys)


def test_records_beyond_memory_name_record_every(work, no_compute, capsys, monkeypatch):
    """Case 86: 10⁷ records under an 8 GB limit (the review's machine)."""
    import metarep.footprint

    monkeypatch.setattr(metarep.footprint, "memory_limit", lambda: (8e9, "the test's limit"))
    assert main(["ode", "--set", "alpha_max=1e7", "--set", "record_every=1"]) == 2
    line = _error_line(capsys)
    assert "than the test's limit (8 GB)" in line and "increase record_every" in line


@pytest.mark.parametrize("seeds", ["0", "-1", "abc"])
def test_seeds_must_be_positive(work, no_compute, capsys, seeds):
    """Cases 70-72: argparse's usage, then one error line naming --seeds; status 2."""
    assert main(["sim", "--seeds", seeds]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage: metarep sim")
    assert err[-1].startswith("metarep sim: error: argument --seeds: must be an integer >= 1")


def test_plot_checks_its_inputs(work, no_compute, capsys):
    """plot: --compare-ode needs a simulation table with its configuration; the figure may
    not replace the table."""
    traj = Trajectory([0.0, 1.0], np.eye(2)[None].repeat(2, 0), np.zeros((2, 2, 2)),
                      np.zeros((2, 2)), [0.4, 0.3], config=Config(K=2, M=2))
    traj.to_csv(work / "ode.csv")
    assert main(["plot", "ode.csv", "--compare-ode"]) == 2
    assert "ode.csv is an ODE table, already the theory" in _error_line(capsys)
    sim = traj.replace(Q=traj.Q[None], R=traj.R[None], a=traj.a[None], eg=traj.eg[None],
                       seeds=[0], config=None)
    sim.to_npz(work / "sim.npz")
    assert main(["plot", "sim.npz", "--compare-ode"]) == 2
    assert "needs the configuration of sim.npz" in _error_line(capsys)


# -- the configuration: files, overrides, provenance ---------------------------------------------

def test_ode_writes_table_configuration_and_figure_without_touching_its_input(work, capsys):
    """Cases 47, 58, 60, 62: --set repairs an invalid file; the input keeps its comments and
    bytes; the table's configuration is STEM.config.toml with the overrides and a [run]
    provenance table; nothing is replaced without --force."""
    source = "# my run\n" + BASE.replace("K = 2", "K = 0   # invalid alone, repaired by --set")
    (work / "run.toml").write_text(source)
    argv = ["ode", "--config", "run.toml", "--set", "K=2", "--set", "record_every=0.5",
            "--out", "run.csv", "--plot", "run.png"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert (work / "run.toml").read_text() == source
    assert "wrote run.csv and run.config.toml" in out.err and "wrote run.png" in out.err
    assert re.match(r"ode: 5 records, meta-test error 0\.41\d+ at α = 0, 0\.\d+ at α = 2",
                    out.out)
    assert (work / "run.png").stat().st_size > 10_000
    header = (work / "run.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["alpha", "eg"] and header[-3:] == ["T_0_0", "T_0_1", "T_1_1"]
    expected = Config.from_toml(work / "base.toml").replace(record_every=0.5)
    traj = Trajectory.from_csv(work / "run.csv")
    assert traj.config == expected and np.allclose(traj.alpha, np.arange(0, 2.01, 0.5))
    run = tomllib.loads((work / "run.config.toml").read_text())["run"]
    assert run["command"] == "metarep " + " ".join(argv) and run["partial"] is False
    assert run["records"] == run["planned_records"] == 5
    import jax

    import metarep
    assert (run["metarep"], run["jax"]) == (metarep.__version__, jax.__version__)

    assert main(argv) == 2                                        # exists: refused
    assert "run.csv exists" in _error_line(capsys)
    assert main([*argv, "--force"]) == 0                          # asked: replaced
    assert (work / "run.toml").read_text() == source
    # case 58: a table without suffix; case 62: without --out or --plot nothing is saved
    assert main(["ode", "--config", "base.toml", "--out", "table"]) == 0
    assert Trajectory.from_csv(work / "table").config == Config.from_toml(work / "base.toml")
    assert (work / "table.config.toml").exists()
    capsys.readouterr()
    assert main(["ode", "--config", "base.toml"]) == 0
    assert "without --out or --plot nothing is saved" in capsys.readouterr().err


def test_empty_configuration_is_noted(work, capsys):
    """Case 46: an empty file runs every default, and says so."""
    (work / "empty.toml").write_text("# nothing\n")
    assert main(["ode", "--config", "empty.toml", "--set", "alpha_max=1",
                 "--out", "e.npz"]) == 0
    assert "empty.toml sets no key: every key has its default" in capsys.readouterr().err
    back = Trajectory.from_npz(work / "e.npz")                    # case 63: NPZ round trip
    assert back.config == Config(alpha_max=1.0)


# -- simulations: aligned comparison with the theory -------------------------------------------

#: The comparison run: η_in = 2 specializes by α ≈ 40 (book chapter on the dynamics); every
#: seed picks its own permutation and signs of the units.
COMPARE = dict(K=2, M=2, eta_in=2.0, alpha_max=40.0, record_every=4.0)
SEEDS = 12
SIZES = {200: 0, 100: 100}       # N: first seed (independent seeds at the two sizes)
#: Monte-Carlo tasks per estimate of eg: one batch of the estimator (compiles once).
EG_TASKS = "1024"


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """`metarep sim` of the comparison run at N = 200 (with the figure and the theory) and
    N = 100, read back from their tables."""
    folder = tmp_path_factory.mktemp("compare")
    runs = {}
    for N, seed in SIZES.items():
        table = folder / f"N{N}.csv"
        argv = ["sim", "--quiet", "--seeds", str(SEEDS), "--eg-tasks", EG_TASKS,
                *_sets(**COMPARE, N=N, seed=seed), "--out", str(table)]
        if N == 200:
            argv += ["--plot", str(folder / "N200.png"), "--compare-ode"]
        assert main(argv) == 0
        runs[N] = Trajectory.from_csv(table)
    return folder, runs


def _observables(traj: Trajectory) -> np.ndarray:
    """(seeds, records, 9): eg, the four cosines, the heads a_k and the norms Q_kk."""
    return np.concatenate([traj.eg[..., None], traj.cosines().reshape(*traj.eg.shape, -1),
                           traj.a, np.diagonal(traj.Q, axis1=-2, axis2=-1)], axis=-1)


def _deviation(sim: Trajectory, theory: Trajectory) -> np.ndarray:
    return (_observables(sim) - _observables(theory))[:, 1:]     # α = 0: the same state


def test_aligned_seed_means_agree_with_the_theory(compared):
    r"""The aligned seed means agree with the theory, within Student-t intervals at a
    family-wise false-alarm rate of 10⁻³ (Bonferroni over 10 records × 9 observables), after
    a finite-N correction measured from the two sizes.

    Per seed s the deviation d_s = sim_s − theory_s (theory: the ODE from seed s's own
    initial state; both sides in canonical unit labels, as the figure draws them) has mean
    b(N), the finite-N bias, and i.i.d. seed noise. With b(N) = c/N + o(1/N), the correction
    at N = 200 is measured as the change m₁₀₀ − m₂₀₀ of the seed means, and the extrapolation
    D = 2 m₂₀₀ − m₁₀₀ has mean 0; its standard error √(4 se₂₀₀² + se₁₀₀²) (independent runs)
    has Welch-Satterthwaite degrees of freedom.
    """
    _, runs = compared
    m, v = {}, {}
    for N, sim in runs.items():
        theory, sim = cli.aligned(sim, theory=True)
        d = _deviation(sim, theory)
        m[N], v[N] = d.mean(axis=0), d.var(axis=0, ddof=1) / SEEDS
    stat, var = 2 * m[200] - m[100], 4 * v[200] + v[100]
    dof = var**2 / ((4 * v[200]) ** 2 / (SEEDS - 1) + v[100] ** 2 / (SEEDS - 1))
    tests = stat.size
    bound = stats.t.ppf(1 - 1e-3 / 2 / tests, dof) * np.sqrt(var)
    assert tests == 90 and np.all(var > 0)
    assert np.all(np.abs(stat) <= bound), np.abs(stat) / bound


def test_sim_table_configuration_and_figure(compared):
    """One row per seed and record; the configuration beside the table records the seeds,
    the command and that the run is complete; the figure exists."""
    folder, runs = compared
    sim = runs[200]
    assert list(sim.seeds) == list(range(SEEDS)) and len(sim.alpha) == 11
    assert len((folder / "N200.csv").read_text().splitlines()) == 1 + SEEDS * 11
    assert sim.config == Config(**COMPARE, N=200)
    run = tomllib.loads(config_path(folder / "N200.csv").read_text())["run"]
    assert run["seeds"] == list(range(SEEDS)) and run["partial"] is False
    assert run["command"].startswith(f"metarep sim --quiet --seeds {SEEDS} --eg-tasks")
    assert (folder / "N200.png").stat().st_size > 10_000


def test_plot_redraws_a_table_aligned(compared, monkeypatch, capsys):
    """`metarep plot TABLE --compare-ode` draws what :func:`metarep.cli.aligned` returns:
    the seed-averaged theory and the simulation in canonical unit labels."""
    import metarep.plotting

    folder, runs = compared
    drawn = []
    real = metarep.plotting.plot_overview
    monkeypatch.setattr(metarep.plotting, "plot_overview",
                        lambda ode, sim: drawn.append((ode, sim)) or real(ode, sim))
    figure = folder / "again.pdf"
    assert main(["plot", str(folder / "N200.csv"), "--compare-ode", "--plot", str(figure)]) == 0
    assert figure.stat().st_size > 5_000 and f"wrote {figure}" in capsys.readouterr().err
    theory, sim = cli.aligned(runs[200], theory=True)
    (ode_drawn, sim_drawn), = drawn
    np.testing.assert_array_equal(sim_drawn.R, sim.R)
    np.testing.assert_array_equal(ode_drawn.R, theory.seed_mean().R)
    assert not np.array_equal(sim.R, runs[200].R)          # the seeds needed relabelling
    assert main(["plot", str(folder / "N100.csv")]) == 0    # default name: N100.png
    assert (folder / "N100.png").exists()


def test_interrupted_sim_saves_partial_records(work, monkeypatch, capsys):
    """Ctrl-C (here: the third chunk of training steps raises KeyboardInterrupt) writes the
    records completed so far, marked partial in the configuration and on stderr; status 130."""
    import metarep.simulator

    real, calls = metarep.simulator.advance, []

    def advance(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(metarep.simulator, "advance", advance)
    rc = main(["sim", "--quiet", "--seeds", str(SEEDS), "--eg-tasks", EG_TASKS, *_sets(**COMPARE),
               "--set", "N=200", "--set", "alpha_max=4", "--set", "record_every=1",
               "--out", "part.csv"])
    assert rc == 130
    err = capsys.readouterr().err
    assert "interrupted: saved the 3 of 5 records completed (up to α = 2), marked partial" in err
    part = Trajectory.from_csv(work / "part.csv")
    assert np.allclose(part.alpha, [0, 1, 2]) and part.eg.shape == (SEEDS, 3)
    run = tomllib.loads((work / "part.config.toml").read_text())["run"]
    assert run["partial"] is True and (run["records"], run["planned_records"]) == (3, 5)


def test_diverging_sim_saves_the_records_before_it(work, monkeypatch, capsys):
    """A simulation that diverges (here: the third chunk of steps raises the simulator's
    DivergenceError) still writes the records completed before, marked partial; status 2
    with the one-line cause."""
    import metarep.simulator
    from metarep.errors import DivergenceError

    real, calls = metarep.simulator.advance, []

    def advance(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise DivergenceError("the simulation diverged at α ≈ 2 (test)")
        return real(*args, **kwargs)

    monkeypatch.setattr(metarep.simulator, "advance", advance)
    rc = main(["sim", "--quiet", "--seeds", str(SEEDS), "--eg-tasks", EG_TASKS, *_sets(**COMPARE),
               "--set", "N=200", "--set", "alpha_max=4", "--set", "record_every=1",
               "--out", "div.csv"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "saved the 3 of 5 records completed before the divergence" in err
    assert "error: the simulation diverged" in err
    run = tomllib.loads((work / "div.config.toml").read_text())["run"]
    assert run["partial"] is True and run["records"] == 3


# -- the whole program --------------------------------------------------------------------------

def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def test_programs_names_status_and_help():
    """The console script is `metarep`, the module `python -m metarep`; usage errors and
    configuration errors exit with status 2 and one error line."""
    script = Path(sys.executable).with_name("metarep")
    done = _run(str(script), "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: metarep ")
    for word in ("ode", "sim", "plot", "keys", "book/reproducing.md"):
        assert word in done.stdout
    done = _run(sys.executable, "-m", "metarep", "sim", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m metarep sim")
    text = " ".join(done.stdout.split())
    for column in ("eg_noadapt", "eg_oracle", "specialization", "eg_sem", "seed", "T_m_n",
                   "Without --out or --plot nothing is saved", "book/reproducing.md",
                   "STEM.config.toml", "--compare-ode", "--eg-tasks", "--force"):
        assert column in text, column
    assert "SPEC" not in text
    done = _run(sys.executable, "-m", "metarep", "ode", "--seeds", "2")
    assert done.returncode == 2 and "unrecognized arguments: --seeds 2" in done.stderr
    done = _run(str(script), "ode", "--set", "teacher_spread=1.5")
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "error: teacher_spread = 1.5 is out of range: teacher spread σ_B of the tasks' first "
        "layers, in [0, 1)"]


def test_version_and_keys(capsys):
    import jax

    import metarep
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip().startswith(
        f"metarep {metarep.__version__} (jax {jax.__version__}, Python ")
    assert main(["keys"]) == 0
    lines = capsys.readouterr().out.splitlines()
    from metarep.config import KEY_HELP

    assert len(lines) == 1 + len(KEY_HELP)
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == set(KEY_HELP)
    assert rows["alpha_max"].split()[1] == "100.0" and KEY_HELP["alpha_max"] in rows["alpha_max"]
    assert rows["teacher"].split()[1] == "'orthogonal'" and rows["Q0"].split()[1] == "(unset)"


def test_ctrl_c_during_sim(tmp_path):
    """A real SIGINT once the progress bar shows training steps: status 130, the completed
    records saved and marked partial."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "metarep", "sim", "--set", "N=50", "--set", "alpha_max=2000",
         "--set", "record_every=0.02", "--eg-tasks", "0", "--out", "long.csv"],
        cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    err = bytearray()
    reader = threading.Thread(target=lambda: [err.extend(c) for c in
                                              iter(lambda: os.read(proc.stderr.fileno(), 512),
                                                   b"")], daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not re.search(rb"\| *[1-9]\d*/\d+ \[", err) and time.monotonic() < deadline:
        assert proc.poll() is None, err.decode()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    reader.join(timeout=10)
    text = err.decode()
    assert re.search(r"interrupted: saved the \d+ of 100001 records completed", text), text
    assert "Traceback" not in text
    part = Trajectory.from_csv(tmp_path / "long.csv")
    run = tomllib.loads(config_path(tmp_path / "long.csv").read_text())["run"]
    assert run["partial"] is True and run["records"] == len(part.alpha) >= 2


def test_sim_closed_form_meta_test_error(tmp_path, capsys):
    out = tmp_path / "sim.csv"
    args = ["sim", "--quiet", "--set", "N=50", "--set", "alpha_max=1", "--out", str(out)]
    assert main([*args, "--eg-method", "closed-form"]) == 0
    traj = Trajectory.from_csv(out)
    assert np.all(np.isfinite(traj.eg)) and np.all(traj.observables["eg_sem"] == 0)
    assert main([*args, "--eg-method", "closed-form", "--set", "support=5"]) == 2
    assert "closed-form meta-test error needs" in capsys.readouterr().err


def test_cache_command_names_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("METAREP_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache" / "x").mkdir(parents=True)
    (tmp_path / "cache" / "x" / "entry").write_bytes(b"1234")
    assert main(["cache"]) == 0
    text = capsys.readouterr().out
    assert str(tmp_path / "cache") in text and "1 files" in text
    assert main(["cache", "--clear"]) == 0
    assert not (tmp_path / "cache").exists()
