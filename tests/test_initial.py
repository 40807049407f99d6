"""The shared initial state: teachers, random and prescribed initial bodies (SPEC §4)."""

import numpy as np
import pytest

from metarep.config import Config
from metarep.errors import ConfigError
from metarep.initial import (initial_order_parameters, initial_weights, overlaps, split_keys,
                             teacher_weights)


def test_orthogonal_teacher_has_identity_overlaps():
    B = teacher_weights(Config(M=3, N=200))
    assert B.shape == (3, 200)
    np.testing.assert_allclose(B @ B.T / 200, np.eye(3), atol=1e-12)


def test_gaussian_teacher_overlaps_within_sampling_error():
    N, M = 4000, 3
    T = overlaps(np.zeros((1, N)), teacher_weights(Config(M=M, N=N, teacher="gaussian")))[2]
    # T_mm has std sqrt(2/N), off-diagonals sqrt(1/N): every entry within 5 standard deviations
    assert np.all(np.abs(T - np.eye(M)) < 5 * np.sqrt(2 / N))


def test_same_seed_same_state_and_different_seeds_differ():
    cfg = Config(K=2, M=2, N=300, seed=3)
    for x, y in zip(initial_weights(cfg), initial_weights(cfg)):
        assert np.array_equal(x, y)
    assert not np.array_equal(initial_weights(cfg)[1], initial_weights(cfg.replace(seed=4))[1])
    assert len({np.asarray(k).tobytes() for k in split_keys(0)}) == 3


def test_random_initialisation_statistics():
    cfg = Config(K=3, M=2, N=5000, init_scale=0.5)
    B, W, _ = initial_weights(cfg)
    Q, R, _ = overlaps(W, B)
    # Q_kk = init_scale² (1 + O(√(2/N))), R_km = O(init_scale/√N): 5-sigma bounds
    assert np.all(np.abs(np.diag(Q) / 0.25 - 1) < 5 * np.sqrt(2 / cfg.N))
    assert np.all(np.abs(R) < 5 * 0.5 / np.sqrt(cfg.N))


@pytest.mark.parametrize("teacher", ["orthogonal", "gaussian"])
def test_prescribed_overlaps_are_realised_exactly(teacher):
    cfg = Config(K=3, M=2, N=400, teacher=teacher, Q0=np.diag([1.0, 0.5, 0.7]),
                 R0=[[0.5, 0.0], [0.0, 0.3], [0.1, 0.1]], a0=[0.1, 0.2, 0.3])
    B, W, a = initial_weights(cfg)
    Q, R, T = overlaps(W, B)
    np.testing.assert_allclose(Q, cfg.Q0_array, atol=1e-12)
    np.testing.assert_allclose(R, cfg.R0_array, atol=1e-12)
    np.testing.assert_array_equal(a, [0.1, 0.2, 0.3])
    op = initial_order_parameters(cfg)
    np.testing.assert_allclose(op.Q, Q, atol=1e-12)
    np.testing.assert_allclose(op.T, T if teacher == "gaussian" else np.eye(2), atol=1e-12)


def test_order_parameters_match_microscopic_state():
    cfg = Config(K=2, M=3, N=700, seed=11)
    B, W, a = initial_weights(cfg)
    op = initial_order_parameters(cfg)
    np.testing.assert_allclose(op.Q, W @ W.T / 700)
    np.testing.assert_allclose(op.R, W @ B.T / 700)


def test_unrealisable_dimensions():
    with pytest.raises(ConfigError, match="K \\+ M <= N"):
        initial_weights(Config(K=3, M=2, N=4, Q0=np.eye(3), R0=np.zeros((3, 2))))
