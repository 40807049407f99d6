"""Command line: `python -m metarep ode|sim` writes tables, configs and figures."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

from metarep.cli import main
from metarep.config import Config
from metarep.trajectory import Trajectory

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "basic.toml"


def test_example_config_is_valid():
    cfg = Config.from_toml(EXAMPLE)
    assert (cfg.K, cfg.M, cfg.P) == (2, 2, None)


def test_ode_command_writes_table_config_and_figure(tmp_path):
    out, fig = tmp_path / "ode.csv", tmp_path / "ode.png"
    rc = main(["ode", "--config", str(EXAMPLE), "--set", "alpha_max=4", "--set",
               "record_every=0.5", "--out", str(out), "--plot", str(fig)])
    assert rc == 0 and fig.stat().st_size > 10_000
    with open(out) as fh:
        header = next(csv.reader(fh))
    assert header[:4] == ["alpha", "eg", "Q_0_0", "Q_0_1"] and "seed" not in header
    traj = Trajectory.from_csv(out)
    np.testing.assert_allclose(traj.alpha, np.arange(0, 4.01, 0.5))
    assert traj.config == Config.from_toml(EXAMPLE).replace(alpha_max=4.0, record_every=0.5)
    assert np.all(np.isfinite(traj.eg)) and traj.eg[-1] < traj.eg[0]


def test_sim_command_one_row_per_seed_and_record(tmp_path):
    out, fig = tmp_path / "sim.csv", tmp_path / "sim.png"
    rc = main(["sim", "--config", str(EXAMPLE), "--seeds", "2", "--quiet", "--set", "N=200",
               "--set", "alpha_max=2", "--out", str(out), "--plot", str(fig), "--compare-ode"])
    assert rc == 0 and fig.exists()
    traj = Trajectory.from_csv(out)
    assert list(traj.seeds) == [0, 1] and len(traj.alpha) == 3
    with open(out) as fh:
        assert sum(1 for _ in fh) == 1 + 2 * 3


def test_bad_configuration_exits_2_naming_the_key(tmp_path, capsys):
    assert main(["ode", "--set", "teacher_spread=1.5"]) == 2
    assert "teacher_spread" in capsys.readouterr().err
    assert main(["sim", "--set", "etaa=1"]) == 2
    assert "unknown configuration key" in capsys.readouterr().err


def test_module_entry_point_help():
    run = subprocess.run([sys.executable, "-m", "metarep", "--help"], capture_output=True,
                         text=True, check=True)
    assert "ode" in run.stdout and "sim" in run.stdout
