"""Trajectories: shape checks, seed statistics, CSV (SPEC §4 columns) and NPZ round trips."""

import numpy as np
import pytest

from metarep.config import Config
from metarep.trajectory import Trajectory


def _random_traj(rng, seeds=(0, 1, 2), n=4, K=3, M=2, config=None):
    lead = (len(seeds),) if seeds is not None else ()
    W = rng.normal(size=(*lead, n, K, 5))
    Q = W @ np.swapaxes(W, -1, -2) / 5
    return Trajectory(np.linspace(0, 3, n), Q, rng.normal(size=(*lead, n, K, M)),
                      rng.normal(size=(*lead, n, K)), rng.random((*lead, n)),
                      {"eg_sem": rng.random((*lead, n))}, seeds, config)


def test_csv_columns_follow_spec_order(tmp_path):
    traj = _random_traj(np.random.default_rng(0), K=2, M=2)
    traj.to_csv(tmp_path / "t.csv")
    header = (tmp_path / "t.csv").read_text().splitlines()[0].split(",")
    assert header == ["alpha", "eg", "Q_0_0", "Q_0_1", "Q_1_1", "R_0_0", "R_0_1", "R_1_0",
                      "R_1_1", "a_0", "a_1", "eg_sem", "seed"]
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 1 + 3 * 4


@pytest.mark.parametrize("seeds", [None, (0, 1, 2)])
def test_round_trips_are_exact(tmp_path, seeds):
    cfg = Config(K=3, M=2, v_mean=[1.0, 0.5])
    traj = _random_traj(np.random.default_rng(1), seeds=seeds, config=cfg)
    for back in (Trajectory.from_csv(traj.to_csv(tmp_path / "t.csv")),
                 Trajectory.from_npz(traj.to_npz(tmp_path / "t.npz"))):
        for name in ("alpha", "Q", "R", "a", "eg"):
            np.testing.assert_array_equal(getattr(back, name), getattr(traj, name))
        np.testing.assert_array_equal(back.observables["eg_sem"], traj.observables["eg_sem"])
        assert back.config == cfg
        assert (back.seeds is None) == (seeds is None)


def test_seed_statistics():
    traj = _random_traj(np.random.default_rng(2), seeds=(5, 6, 7, 8))
    mean, sem = traj.seed_mean(), traj.seed_sem()
    np.testing.assert_allclose(mean.eg, traj.eg.mean(0))
    np.testing.assert_allclose(sem.R, traj.R.std(0, ddof=1) / 2)
    assert mean.seeds is None and mean.Q.shape == traj.Q.shape[1:]


def test_cosines_and_shape_errors():
    Q = np.array([[[4.0, 0.0], [0.0, 1.0]]])
    traj = Trajectory([0.0], Q, [[[2.0, 0.0], [0.5, 0.5]]], [[0.0, 0.0]], [0.1],
                      T=np.diag([1.0, 4.0]))
    np.testing.assert_allclose(traj.cosines()[0], [[1.0, 0.0], [0.5, 0.25]])
    with pytest.raises(ValueError, match="shape"):
        Trajectory([0.0, 1.0], Q, [[[2.0, 0.0], [0.5, 0.5]]], [[0.0, 0.0]], [0.1])
