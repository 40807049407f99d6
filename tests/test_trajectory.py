"""Trajectories: shape checks, seed statistics, per-seed teachers, CSV and NPZ round trips
(teacher overlaps and the configuration beside the table included)."""

import numpy as np
import pytest

from helpers import specializing_run
from metarep.config import Config
from metarep.observables import specialization_index
from metarep.trajectory import Trajectory, config_path, provenance, read_table


def _random_traj(rng, seeds=(0, 1, 2), n=4, K=3, M=2, config=None):
    lead = (len(seeds),) if seeds is not None else ()
    W = rng.normal(size=(*lead, n, K, 5))
    Q = W @ np.swapaxes(W, -1, -2) / 5
    return Trajectory(np.linspace(0, 3, n), Q, rng.normal(size=(*lead, n, K, M)),
                      rng.normal(size=(*lead, n, K)), rng.random((*lead, n)),
                      {"eg_sem": rng.random((*lead, n))}, seeds, config)


def test_csv_columns_in_documented_order(tmp_path):
    traj = _random_traj(np.random.default_rng(0), K=2, M=2)
    traj.to_csv(tmp_path / "t.csv")
    header = (tmp_path / "t.csv").read_text().splitlines()[0].split(",")
    assert header == ["alpha", "eg", "Q_0_0", "Q_0_1", "Q_1_1", "R_0_0", "R_0_1", "R_1_0",
                      "R_1_1", "a_0", "a_1", "eg_sem", "T_0_0", "T_0_1", "T_1_1", "seed"]
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
        assert set(back.observables) == {"eg_sem"}
        assert back.config == cfg
        assert (back.seeds is None) == (seeds is None)


@pytest.mark.parametrize("seeds", [None, (3, 4)])
def test_round_trips_keep_the_teacher_overlaps(tmp_path, seeds):
    """Issue 11: a Gaussian teacher has T ≠ I, and the cosines R_km/√(Q_kk T_mm) read back
    from a table must be those of the run (the table has the columns T_m_n)."""
    from metarep import ode

    cfg = Config(K=2, M=2, N=50, teacher="gaussian", alpha_max=1.0, record_every=0.5)
    traj = ode.integrate(cfg)
    assert abs(traj.T[1, 1] - 1) > 0.05 and abs(traj.T[0, 1]) > 0.01     # far from I at N = 50
    if seeds is not None:
        lead = (len(seeds),)
        traj = traj.replace(Q=np.broadcast_to(traj.Q, lead + traj.Q.shape),
                            R=np.broadcast_to(traj.R, lead + traj.R.shape),
                            a=np.broadcast_to(traj.a, lead + traj.a.shape),
                            eg=np.broadcast_to(traj.eg, lead + traj.eg.shape),
                            observables={}, seeds=seeds)
    for back in (read_table(traj.to_csv(tmp_path / "g.csv")),
                 read_table(traj.to_npz(tmp_path / "g.npz"))):
        np.testing.assert_array_equal(back.T, traj.T)
        np.testing.assert_array_equal(back.cosines(), traj.cosines())
        assert back.config == cfg


def test_configuration_beside_the_table(tmp_path):
    """The configuration of t.csv is t.config.toml (also for names without a suffix or with
    another one); its [run] provenance is read back apart from the configuration."""
    assert config_path(tmp_path / "t.csv") == tmp_path / "t.config.toml"
    assert config_path("table").name == "table.config.toml"
    assert config_path("x.txt").name == "x.config.toml"
    cfg = Config(K=3, M=2)
    traj = _random_traj(np.random.default_rng(3), config=cfg)
    run = {"command": 'metarep sim --set teacher="gaussian"', "seeds": [0, 1, 2],
           "partial": True}
    for path in (traj.to_csv(tmp_path / "t.csv", run), traj.to_npz(tmp_path / "t.npz", run)):
        assert read_table(path).config == cfg and provenance(path) == run
    assert Config.from_toml(tmp_path / "t.config.toml") == cfg
    assert not (tmp_path / "t.toml").exists()
    assert provenance(traj.replace(config=None).to_csv(tmp_path / "bare.csv")) == {}
    assert read_table(tmp_path / "bare.csv").config is None


@pytest.mark.parametrize("text, message", [
    ("", "no column 'alpha'"), ("alpha,eg\n", "no column 'Q_0_0'"),
    ("alpha,eg,Q_0_0,R_0_0,a_0\n", "no rows"),
    ("alpha,eg,Q_0_0,R_0_0,a_0\n0,0.4,x,0,0\n", "numbers only"),
    ("alpha,eg,Q_0_0,R_0_0,a_0\n0,0.4,1,0\n", "numbers only"),
])
def test_not_a_table(tmp_path, text, message):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(ValueError, match=message):
        Trajectory.from_csv(tmp_path / "t.csv")


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


def test_one_seed_has_no_standard_error():
    """seed_sem of a single seed is NaN (no spread to estimate), not 0."""
    traj = _random_traj(np.random.default_rng(3), seeds=(4,))
    sem = traj.seed_sem()
    for name in ("Q", "R", "a", "eg"):
        assert np.all(np.isnan(getattr(sem, name))), name
    assert np.all(np.isnan(sem.observables["eg_sem"]))
    np.testing.assert_array_equal(traj.seed_mean().eg, traj.eg[0])


def test_per_seed_teacher_overlaps():
    """T of shape (seeds, M, M): cosines and the specialization index use each seed's T,
    T_records broadcasts it to every record, select keeps the seeds' T, seed_mean averages
    it, and the NPZ file keeps it."""
    rng = np.random.default_rng(4)
    traj = _random_traj(rng, seeds=(0, 1, 2), K=2, M=2)
    T = np.stack([np.diag([1.0, 4.0]), np.eye(2), np.diag([9.0, 1.0])])
    traj = traj.replace(T=T)
    assert traj.T_records.shape == (3, 4, 2, 2)
    np.testing.assert_array_equal(traj.T_records[2, 3], T[2])
    cos = traj.cosines()
    for s in range(3):
        want = traj.R[s] / np.sqrt(np.diagonal(traj.Q[s], axis1=-2, axis2=-1)[..., :, None]
                                   * np.diag(T[s])[None, None, :])
        np.testing.assert_allclose(cos[s], want, rtol=1e-14)
    spec = traj.specialization()
    assert spec.shape == traj.eg.shape
    np.testing.assert_allclose(spec[1], specialization_index(traj.Q[1], traj.R[1], T[1]),
                               rtol=1e-14)
    sub = traj.select([2, 0])
    np.testing.assert_array_equal(sub.seeds, [2, 0])
    np.testing.assert_array_equal(sub.T, T[[2, 0]])
    np.testing.assert_array_equal(sub.R, traj.R[[2, 0]])
    np.testing.assert_array_equal(sub.observables["eg_sem"], traj.observables["eg_sem"][[2, 0]])
    np.testing.assert_allclose(traj.seed_mean().T, T.mean(axis=0))
    with pytest.raises(ValueError, match="shape"):
        traj.replace(T=T[:2])
    with pytest.raises(ValueError, match="no seed axis"):
        traj.seed_mean().select([0])


def test_per_seed_teacher_survives_npz(tmp_path):
    traj = _random_traj(np.random.default_rng(5), seeds=(0, 1), K=2, M=2)
    traj = traj.replace(T=np.stack([np.diag([1.0, 2.0]), np.diag([3.0, 1.0])]))
    back = Trajectory.from_npz(traj.to_npz(tmp_path / "t.npz"))
    np.testing.assert_array_equal(back.T, traj.T)


@pytest.mark.parametrize("n_seeds", [None, 3])
def test_records_selects_the_same_records_of_every_field(n_seeds):
    tr = specializing_run(n_seeds=n_seeds)
    tr = tr.replace(observables={"specialization": tr.specialization()})
    mask = tr.alpha <= 5.0
    part = tr.records(mask)
    np.testing.assert_array_equal(part.alpha, tr.alpha[mask])
    for name in ("Q", "R", "a", "eg"):
        np.testing.assert_array_equal(getattr(part, name), np.compress(
            mask, getattr(tr, name), axis=tr.eg.ndim - 1))
    np.testing.assert_array_equal(part.observables["specialization"],
                                  tr.observables["specialization"][..., mask])
    assert part.config == tr.config and (part.seeds is None) == (n_seeds is None)
    np.testing.assert_array_equal(tr.records([0, -1]).alpha, tr.alpha[[0, -1]])


def test_run_is_one_seed_without_a_seed_axis():
    tr = specializing_run(n_seeds=3)
    tr = tr.replace(observables={"s": tr.specialization()}, seeds=np.array([4, 7, 9]))
    one = tr.run(7)
    assert not one.has_seeds and one.config == tr.config
    for name in ("Q", "R", "a", "eg"):
        np.testing.assert_array_equal(getattr(one, name), getattr(tr, name)[1])
    np.testing.assert_array_equal(one.observables["s"], tr.observables["s"][1])
    per_seed_T = tr.replace(T=np.stack([np.eye(2) * (i + 1) for i in range(3)]))
    np.testing.assert_array_equal(per_seed_T.run(9).T, 3 * np.eye(2))
