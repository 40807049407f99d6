"""Downloadable tables: metarep.downloads and the ``table()`` of every result a chapter offers."""

import csv

import jax
import numpy as np
import pytest

from metarep import downloads, ode
from metarep.config import Config
from metarep.studies import new_tasks as nt
from metarep.studies import task_variability as var
from metarep.trajectory import Trajectory

from helpers import synthetic_grid


def _read(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_folder_is_created_under_root(tmp_path):
    out = downloads.folder("chapter", root=tmp_path / "downloads")
    assert out == tmp_path / "downloads" / "chapter" and out.is_dir()
    assert downloads.folder("chapter", root=tmp_path / "downloads") == out   # idempotent


def test_write_csv_round_trips_floats_and_repeats_scalars(tmp_path):
    x = np.array([0.1, 1 / 3, np.inf, np.nan, -2.5e-300])
    path = downloads.write_csv(tmp_path / "t.csv", {"x": x, "K": 3, "name": "a,b"})
    header, rows = _read(path)
    assert header == ["x", "K", "name"] and len(rows) == 5
    back = np.array([float(r[0]) for r in rows])
    np.testing.assert_array_equal(back, x)                     # exact, nan included
    assert all(r[1] == "3" and r[2] == "a,b" for r in rows)    # the comma is quoted
    data = np.genfromtxt(path, delimiter=",", names=True, usecols=(0, 1))
    np.testing.assert_array_equal(data["x"], x)


def test_write_csv_stacks_tables_and_refuses_bad_input(tmp_path):
    path = downloads.write_csv(tmp_path / "t.csv", {"K": 2, "y": [1.0, 2.0]},
                               {"K": 4, "y": [3.0]})
    assert _read(path)[1] == [["2", "1.0"], ["2", "2.0"], ["4", "3.0"]]
    with pytest.raises(ValueError, match="different lengths"):
        downloads.write_csv(tmp_path / "t.csv", {"a": [1, 2], "b": [1, 2, 3]})
    with pytest.raises(ValueError, match="1-d"):
        downloads.write_csv(tmp_path / "t.csv", {"a": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="different columns"):
        downloads.write_csv(tmp_path / "t.csv", {"a": [1]}, {"b": [1]})


def test_write_config_reads_back(tmp_path):
    cfg = Config(K=3, M=2, eta=0.7, teacher_spread=0.2)
    assert Config.from_toml(downloads.write_config(tmp_path / "c.toml", cfg)) == cfg


def test_trajectory_table_is_its_csv(tmp_path):
    """Trajectory.table() has the rows of to_csv (seed-major for simulations), and to_csv
    reads back through from_csv."""
    rng = np.random.default_rng(0)
    S, n, K, M = 2, 4, 2, 1
    Q = rng.normal(size=(S, n, K, K))
    Q = Q + np.swapaxes(Q, -1, -2)
    traj = Trajectory(alpha=np.arange(n) * 0.5, Q=Q, R=rng.normal(size=(S, n, K, M)),
                      a=rng.normal(size=(S, n, K)), eg=rng.random((S, n)),
                      observables={"eg_sem": rng.random((S, n))}, seeds=np.array([3, 7]))
    t = traj.table()
    assert list(t)[0] == "alpha" and list(t)[-1] == "seed"
    np.testing.assert_array_equal(t["seed"], [3, 3, 3, 3, 7, 7, 7, 7])
    np.testing.assert_array_equal(t["Q_0_1"], Q[:, :, 0, 1].ravel())
    back = Trajectory.from_csv(traj.to_csv(tmp_path / "s.csv"))
    np.testing.assert_array_equal(back.Q, traj.Q)
    np.testing.assert_array_equal(back.observables["eg_sem"], traj.observables["eg_sem"])


def test_rate_grid_table_one_row_per_point(tmp_path):
    grid = synthetic_grid()
    t = grid.table()
    assert list(t)[:2] == ["eta", "eta_in"] and t["eta"].shape == (25,)
    i, j = 3, 1                                   # C order: row 3·5 + 1
    row = 3 * 5 + 1
    assert t["eta"][row] == grid.values[0][i] and t["eta_in"][row] == grid.values[1][j]
    assert t["final_error"][row] == grid.final_error[i, j] or np.isnan(grid.final_error[i, j])
    assert t["diverged"][row] == int(grid.diverged[i, j])
    downloads.write_csv(tmp_path / "grid.csv", t)


def test_seed_runs_scan_and_few_shot_tables():
    """The ODE runs of several seeds (over-parameterization: ode.integrate_seeds, formerly an
    Ensemble with its own table) are a Trajectory: one row per seed and record, seed-major,
    with the observables ``specialization`` and ``eg_oracle`` as columns."""
    cfg = Config(K=3, M=2, N=60, alpha_max=2.0, record_every=1.0, dt=0.1)
    runs = ode.integrate_seeds(cfg, [0, 3])
    t = runs.table()
    assert t["seed"].tolist() == [0, 0, 0, 3, 3, 3] and "Q_2_2" in t and "a_2" in t
    np.testing.assert_array_equal(t["eg"], runs.eg.ravel())
    np.testing.assert_array_equal(t["specialization"], runs.observables["specialization"].ravel())
    np.testing.assert_array_equal(t["eg_oracle"], runs.observables["eg_oracle"].ravel())

    scan, _ = var.scan_final(cfg.replace(K=2), "teacher_spread", [0.0, 0.3])
    t = scan.table()
    assert list(t)[0] == "teacher_spread" and t["eta"] == cfg.eta
    np.testing.assert_array_equal(t["eg"], scan.eg)

    state = nt.initial_networks(cfg.replace(K=2), [0, 1])
    res = nt.few_shot(cfg.replace(K=2), state, [3, "inf"], jax.random.PRNGKey(0), n_tasks=20)
    t = res.table()
    assert t["P"] == [3, float("inf")] and list(t)[3:] == ["seed0", "seed0_sem", "seed1",
                                                           "seed1_sem"]
    np.testing.assert_array_equal(t["seed1"], res.per_seed[1])
