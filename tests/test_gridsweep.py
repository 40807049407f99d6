"""Sweeps at scale (metarep.gridsweep, ``python -m metarep sweep``).

* The grid and shard syntax, and the checks of a plan before any computation.
* One job and two shards (``--shard 0/2``, ``1/2``) give byte-identical merged tables; an
  interrupted sweep resumes (only missing chunks are computed); a folder with another plan
  is not overwritten without ``--force``; a merge with missing chunks names them.
* One and two devices (``XLA_FLAGS=--xla_force_host_platform_device_count=2`` in a fresh
  process) give byte-identical tables, for the ODE (grid points sharded) and for simulations
  (seeds sharded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from metarep import gridsweep
from metarep.cli import main
from metarep.config import Config
from metarep.errors import ConfigError

BASE = Config(K=2, M=2, N=30, alpha_max=1.0, record_every=0.5, first_order=True, dt=0.1)
ODE_GRID = {"eta": [0.5, 1.0, 1.5], "eta_in": [0.5, 1.0]}
SIM_GRID = {"eta_in": [0.5, 1.0], "label_noise": [0.0, 0.1]}


def test_grid_and_shard_syntax():
    grid = gridsweep.parse_grid(["eta=0.5,1,2", "eta_in=0:2:5"])
    np.testing.assert_array_equal(grid["eta"], [0.5, 1.0, 2.0])
    np.testing.assert_array_equal(grid["eta_in"], [0.0, 0.5, 1.0, 1.5, 2.0])
    assert gridsweep.parse_shard("1/4") == (1, 4)
    for bad in (["eta"], ["eta=a,b"], ["eta=0:1:2.5"], ["eta=1", "eta=2"]):
        with pytest.raises(ConfigError, match="grid"):
            gridsweep.parse_grid(bad)
    for bad in ("4/4", "1", "-1/2", "a/b"):
        with pytest.raises(ConfigError, match="shard"):
            gridsweep.parse_shard(bad)


def test_plan_is_checked_before_computing():
    with pytest.raises(ConfigError, match="cannot sweep 'N' in the ODE"):
        gridsweep.plan("ode", BASE, {"N": [10, 20]})
    with pytest.raises(ConfigError, match="cannot sweep 'dtype' in simulations"):
        gridsweep.plan("sim", BASE, {"dtype": [1.0]})
    with pytest.raises(ConfigError, match="teacher_spread"):
        gridsweep.plan("sim", BASE, {"teacher_spread": [0.5, 1.5]})
    p = gridsweep.plan("ode", BASE, ODE_GRID, chunk=4)
    assert (p.n_points, p.n_chunks) == (6, 2) and p.points()[1] == (0.5, 1.0)
    assert gridsweep.shard_chunks(p, (1, 2)) == [1]
    assert gridsweep.Plan.from_manifest(p.manifest()) == p
    from metarep.simulator import EG_TASKS

    assert p.eg_tasks == gridsweep.Plan("sim", BASE, ("eta",), ((1.0,),), (0.0,)).eg_tasks \
        == EG_TASKS
    with pytest.raises(ConfigError, match="eg_tasks = 1"):
        gridsweep.plan("sim", BASE, {"eta": [1.0]}, eg_tasks=1)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ode", "sim"])
def test_shards_resume_and_merge(tmp_path, kind):
    grid = ODE_GRID if kind == "ode" else SIM_GRID
    p = gridsweep.plan(kind, BASE, grid, chunk=2, seeds=2, eg_method="closed_form")
    whole, split = tmp_path / "whole", tmp_path / "split"
    done = gridsweep.run(p, whole, progress=False)
    assert done == {"computed": list(range(p.n_chunks)), "skipped": []}
    with pytest.raises(ConfigError, match=r"chunks are missing \(1\)"):
        gridsweep.run(p, split, (0, 2), progress=False)
        gridsweep.merge(split)
    gridsweep.run(p, split, (1, 2), progress=False)
    a, b = gridsweep.merge(whole), gridsweep.merge(split)
    assert a.read_text() == b.read_text()
    table = gridsweep.read_table(a)
    rows = p.n_points * len(p.alphas) * (p.seeds if kind == "sim" else 1)
    assert len(table["eg"]) == rows and np.all(np.isfinite(table["eg"]))
    np.testing.assert_array_equal(np.unique(table[p.names[0]]), grid[p.names[0]])

    # chunks computed by other software are not resumed
    manifest = json.loads((split / "manifest.json").read_text())
    manifest["provenance"]["source"] = "0" * 16
    (split / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="differs in provenance.source"):
        gridsweep.run(p, split, progress=False)

    # resume: only the missing chunk is computed, and it is the same
    before = gridsweep.chunk_path(whole, 1).read_text()
    gridsweep.chunk_path(whole, 1).unlink()
    assert gridsweep.run(p, whole, progress=False)["computed"] == [1]
    assert gridsweep.chunk_path(whole, 1).read_text() == before

    # another plan: refused without force, replaced with it
    other = gridsweep.plan(kind, BASE.replace(eta_head=0.5), grid, chunk=2, seeds=2,
                           eg_method="closed_form")
    with pytest.raises(ConfigError, match="holds another sweep .differs in config"):
        gridsweep.run(other, whole, progress=False)
    gridsweep.run(other, whole, force=True, progress=False)
    assert not (whole / "results.csv").exists()           # the old merge went with --force
    assert gridsweep.merge(whole).read_text() != b.read_text()
    (whole / "results.csv").write_text("edited by hand\n")
    with pytest.raises(ConfigError, match="exists with other results"):
        gridsweep.merge(whole)
    gridsweep.merge(whole, force=True)


DEVICES = r"""
import sys
from pathlib import Path
from metarep import gridsweep
import jax
from metarep.config import Config
assert len(jax.local_devices()) == 2, jax.local_devices()
base = Config(K=2, M=2, N=30, alpha_max=1.0, record_every=0.5, first_order=True, dt=0.1)
out = Path(sys.argv[1])
# the simulations with sigma_B > 0 and S = 2, where a program sharded over the devices
# rounds differently; batches of 2 points or seeds, so that both devices work; 1024
# Monte-Carlo tasks: one batch of the estimator (one copy of its program to compile)
for kind, grid, cfg in (
        ("ode", {"eta": [0.5, 1.0, 1.5], "eta_in": [0.5, 1.0]}, base),
        ("sim", {"eta_in": [0.5, 1.0], "label_noise": [0.0, 0.1]},
         base.replace(teacher_spread=0.3, inner_steps=2, first_order=False))):
    p = gridsweep.plan(kind, cfg, grid, chunk=4, seeds=4, eg_method="mc", batch=2,
                       eg_tasks=1024)
    for n in (1, 2):
        gridsweep.run(p, out / f"{kind}-{n}", devices=jax.local_devices()[:n], progress=False)
        gridsweep.merge(out / f"{kind}-{n}")
"""


@pytest.mark.slow
def test_one_and_two_devices_give_the_same_numbers(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    run = subprocess.run([sys.executable, "-c", DEVICES, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    for kind in ("ode", "sim"):
        one = (tmp_path / f"{kind}-1" / "results.csv").read_text()
        two = (tmp_path / f"{kind}-2" / "results.csv").read_text()
        assert one == two, kind
    # and the same as a process with a single device
    p = gridsweep.plan("ode", BASE, ODE_GRID, chunk=4, eg_method="mc", batch=2)
    gridsweep.run(p, tmp_path / "here", progress=False)
    assert gridsweep.merge(tmp_path / "here").read_text() == \
        (tmp_path / "ode-2" / "results.csv").read_text()


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["sweep", "run", "--grid", "eta=0.5,1", "--set", "alpha_max=0.5",
            "--set", "record_every=0.5", "--set", "first_order=true", "--set", "dt=0.1",
            "--out", str(out), "--quiet"]
    assert main(args + ["--shard", "1/2", "--chunk", "1"]) == 0
    assert "1 of 2 chunks missing" in capsys.readouterr().err
    assert main(["sweep", "merge", str(out)]) == 2
    assert "chunks are missing (0)" in capsys.readouterr().err
    assert main(args + ["--shard", "0/2", "--chunk", "1"]) == 0
    assert main(["sweep", "merge", str(out)]) == 0
    assert (out / "results.csv").exists() and (out / "config.toml").exists()
    assert main(args + ["--grid", "N=10,20"]) == 2
    assert "cannot sweep 'N'" in capsys.readouterr().err
