"""The shared initial state: teachers, random and prescribed initial bodies, the exact law of
the random initial overlaps and its realisation by microscopic weights."""

import numpy as np
import pytest

from metarep.config import Config
from metarep.errors import ConfigError
from metarep.initial import (initial_order_parameters, initial_weights, overlaps, realise,
                             split_keys, stream, teacher_overlaps, teacher_weights)


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


# -- the exact law of the random initial overlaps ---------------------------------------------
#
# With W i.i.d. N(0, s²) (s = init_scale) and a teacher B with orthogonal rows of norm √N or
# i.i.d. N(0, 1) entries, the overlaps Q = W Wᵀ/N, R = W Bᵀ/N, T = B Bᵀ/N have (k ≠ l, m ≠ n)
#
#   E Q_kk = s²,  Var Q_kk = 2 s⁴/N,  E Q_kl = 0,  E Q_kl² = s⁴/N          (N Q/s² ~ Wishart(N, I))
#   E R_km = 0,   E R_km² = s²/N,     Cov(Q_kk, R_km²) = 2 s⁴/N²
#
# (the last one: given B_m, w·B_m/√N = z ~ N(0, s²) and |w|² = z² + s²χ²_{N−1}, so
# E[|w|² (w·B_m)²] = N s⁴ (N + 2)), and for the Gaussian teacher also
#
#   E T_mm = 1,   Var T_mm = 2/N,     E T_mn² = 1/N,     Cov(T_mm, R_km²) = 2 s²/N²
#
# (E[|b|⁴] = N² + 2N). Bartlett's construction (N ≥ K + M) and the direct draw (N < K + M)
# must both have these moments: each is tested by the z-score of the sample mean of
# its estimator (sample standard error), |z| < 4, over many seeds at small N.

Z_MAX = 4.0


def _moment_z(cfg: Config, n_seeds: int) -> dict[str, float]:
    s2, N, M = cfg.init_scale**2, cfg.N, cfg.M
    ops = [initial_order_parameters(cfg.replace(seed=i)) for i in range(n_seeds)]
    Q = np.stack([o.Q for o in ops])
    R = np.stack([o.R for o in ops])
    T = np.stack([o.T for o in ops])
    est = {"E Q_kk": (Q[:, [0, 1], [0, 1]], s2),
           "Var Q_kk": ((Q[:, [0, 1], [0, 1]] - s2) ** 2, 2 * s2**2 / N),
           "E Q_01": (Q[:, 0, 1], 0.0),
           "E Q_01²": (Q[:, 0, 1] ** 2, s2**2 / N),
           "E R_km": (R.reshape(n_seeds, -1), 0.0),
           "E R_km²": (R.reshape(n_seeds, -1) ** 2, s2 / N),
           "Cov(Q_kk, R_km²)": ((Q[:, [0, 1], [0, 1]][:, :, None] - s2)
                                * (R[:, :2] ** 2 - s2 / N), 2 * s2**2 / N**2)}
    if cfg.teacher == "gaussian":
        diag = T[:, np.arange(M), np.arange(M)]
        est |= {"E T_mm": (diag, 1.0), "Var T_mm": ((diag - 1.0) ** 2, 2.0 / N),
                "E T_01²": (T[:, 0, 1] ** 2, 1.0 / N),
                "Cov(T_mm, R_km²)": ((diag[:, None, :] - 1.0) * (R ** 2 - s2 / N),
                                     2 * s2 / N**2)}
    else:
        assert np.all(T == np.eye(M))
    z = {}
    for name, (x, want) in est.items():
        x = x.reshape(n_seeds, -1)
        z[name] = float(np.max(np.abs(x.mean(0) - want) / (x.std(0, ddof=1) / np.sqrt(n_seeds))))
    return z


@pytest.mark.parametrize("teacher", ["orthogonal", "gaussian"])
@pytest.mark.parametrize("N, n_seeds", [(10, 20000), (3, 20000)])
def test_random_overlaps_have_the_exact_law(teacher, N, n_seeds):
    """N = 10 ≥ K + M: Bartlett's construction; N = 3 < K + M: the weights drawn directly.
    (At N = 10 a Wishart with N − M degrees of freedom instead of N would be off in Var Q_kk
    by ≈ 15 standard errors; a Q independent of R in Cov(Q_kk, R_km²) by ≈ 30.)"""
    z = _moment_z(Config(K=2, M=2, N=N, init_scale=0.5, teacher=teacher), n_seeds)
    assert max(z.values()) < Z_MAX, z


@pytest.mark.parametrize("teacher", ["orthogonal", "gaussian"])
def test_order_parameters_are_the_overlaps_of_the_weights(teacher):
    """initial_order_parameters equals the overlaps of initial_weights (which realise them)
    to rounding, Q, R and T, for both teachers; teacher_overlaps is T without building B."""
    cfg = Config(K=2, M=3, N=700, seed=11, teacher=teacher, init_scale=0.3)
    B, W, a = initial_weights(cfg)
    Q, R, T = overlaps(W, B)
    op = initial_order_parameters(cfg)
    np.testing.assert_allclose(op.Q, Q, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(op.R, R, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(op.T, T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(teacher_overlaps(cfg), T, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(a, op.a)


def test_huge_n_is_fast_and_allocates_nothing_large():
    """N = 10⁹: the overlaps cost O((K + M)²) numbers (an N-vector would be 8 GB)."""
    import time
    import tracemalloc

    from metarep import ode

    cfg = Config(K=3, M=2, N=10**9, teacher="gaussian", seed=5)
    tracemalloc.start()
    t0 = time.perf_counter()
    op = initial_order_parameters(cfg)
    state, T = ode.initial_state(cfg)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20 and elapsed < 1.0, (peak, elapsed)
    # at N = 10⁹ the overlaps are those of N → ∞ to O(1/√N)
    np.testing.assert_allclose(op.Q, 0.01 * np.eye(3), atol=1e-5)
    np.testing.assert_allclose(op.T, np.eye(2), atol=1e-3)
    assert np.abs(op.R).max() < 1e-5
    np.testing.assert_array_equal(state.Q, op.Q)


def test_streams_are_reproducible_and_independent():
    a = stream(3, "student", "overlaps").standard_normal(4)
    np.testing.assert_array_equal(a, stream(3, "student", "overlaps").standard_normal(4))
    others = [stream(4, "student", "overlaps"), stream(3, "student", "directions"),
              stream(3, "teacher", "factor"), stream(3, "teacher", "directions")]
    assert all(not np.array_equal(a, g.standard_normal(4)) for g in others)


def test_realise_gives_exact_overlaps_orthogonal_to_the_teacher():
    cfg = Config(K=3, M=2, N=50, teacher="gaussian", seed=2)
    B = teacher_weights(cfg)
    Q0 = np.array([[1.0, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 0.7]])
    R0 = np.array([[0.5, 0.1], [0.0, 0.3], [0.2, 0.2]])
    W = realise(Q0, R0, B, np.random.default_rng(0))
    Q, R, _ = overlaps(W, B)
    np.testing.assert_allclose(Q, Q0, atol=1e-12)
    np.testing.assert_allclose(R, R0, atol=1e-12)
    with pytest.raises(ConfigError, match="not realisable"):
        realise(0.01 * np.eye(3), R0, B, np.random.default_rng(0))
