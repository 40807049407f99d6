"""metarep.observables: functions of one state (Q, R, a) and T, broadcasting over batches."""

import jax.numpy as jnp
import numpy as np
import pytest

from metarep import metaloss, observables
from metarep.config import Config


def test_cosines_and_specialization_index():
    T = np.eye(2)
    Q = np.diag([4.0, 1.0])
    R = np.array([[2.0, 0.0], [0.0, -1.0]])         # unit 0 → teacher 0, unit 1 → teacher 1
    np.testing.assert_allclose(observables.cosines(Q, R, T), [[1.0, 0.0], [0.0, -1.0]])
    assert float(observables.specialization_index(Q, R, T)) == pytest.approx(1.0)
    R_sym = np.array([[1.0, 1.0], [0.5, 0.5]])       # every unit equally aligned with both
    assert float(observables.specialization_index(Q, R_sym, T)) == pytest.approx(0.0)
    # cosines use T_mm: a teacher unit of norm² 4 halves its cosines
    np.testing.assert_allclose(observables.cosines(Q, R, np.diag([1.0, 4.0])),
                               [[1.0, 0.0], [0.0, -0.5]])
    # M = 1: the squared cosine itself
    assert float(observables.specialization_index(np.eye(2), np.full((2, 1), 0.6),
                                                  np.eye(1))) == pytest.approx(0.36)


def test_specialization_index_broadcasts_over_batches():
    rng = np.random.default_rng(0)
    Q = np.broadcast_to(np.eye(3), (4, 5, 3, 3))
    R = rng.normal(size=(4, 5, 3, 2)) * 0.3
    T = np.broadcast_to(np.eye(2), (4, 5, 2, 2))
    s = np.asarray(observables.specialization_index(Q, R, T))
    assert s.shape == (4, 5)
    np.testing.assert_allclose(s[2, 3], observables.specialization_index(Q[2, 3], R[2, 3],
                                                                         T[2, 3]), rtol=1e-14)


def test_coverage_counts_distinct_teacher_units():
    """Two units copying teacher 0 (one anti-aligned) cover one teacher unit; adding a copy
    of teacher 1 covers both; the specialization index cannot tell these apart."""
    Q, T = np.eye(3), np.eye(2)
    same = np.array([[0.99, 0.0], [-0.95, 0.1], [0.3, 0.3]])
    both = np.array([[0.99, 0.0], [-0.95, 0.1], [0.05, 0.97]])
    assert float(observables.coverage(Q, same, T)) == 1.0
    assert float(observables.coverage(Q, both, T)) == 2.0
    assert float(observables.coverage(Q, both, T, align=0.98)) == 1.0
    assert observables.ALIGN == 0.9
    np.testing.assert_array_equal(observables.coverage(np.stack([Q, Q]), np.stack([same, both]),
                                                       np.stack([T, T])), [1.0, 2.0])


def test_inner_stiffness_and_activation_gram_at_the_teacher_representation():
    # C = I2(I) = (2/π) arcsin(1/2) I = I/3 exactly
    np.testing.assert_allclose(observables.activation_gram(jnp.eye(2)), np.eye(2) / 3,
                               atol=1e-15)
    Q = jnp.stack([jnp.eye(2), jnp.full((2, 2), jnp.nan)])
    s = np.asarray(observables.inner_stiffness(Q, jnp.array([3.0, 3.0])))
    np.testing.assert_allclose(s[0], 1.0, rtol=1e-12)
    assert np.isnan(s[1])
    # broadcasting: one Q, several rates; several Q, one rate
    np.testing.assert_allclose(observables.inner_stiffness(jnp.eye(2), jnp.array([[3.0], [6.0]])),
                               [[1.0], [2.0]], rtol=1e-12)
    Qs = jnp.stack([jnp.eye(2), 2 * jnp.eye(2)])
    want = [1.0, 6.0 / np.pi * np.arcsin(2.0 / 3.0)]
    np.testing.assert_allclose(observables.inner_stiffness(Qs, 3.0), want, rtol=1e-12)


def test_record_observables_are_the_meta_loss_functions():
    cfg = Config(K=2, M=2, v_mean=(1.0, 0.5), v_std=0.4, label_noise=0.2, eta_in=0.7)
    dist = metaloss.task_dist(cfg)
    Q = jnp.array([[0.8, 0.1], [0.1, 0.6]])
    R = jnp.array([[0.5, 0.2], [0.1, 0.4]])
    a = jnp.array([0.3, -0.2])
    eg, extra = observables.record_observables(Q, R, a, dist, cfg.eta_in, 2)
    assert float(eg) == pytest.approx(float(metaloss.meta_test_error(Q, R, a, dist, 0.7, 2)),
                                      rel=1e-14)
    assert set(extra) == {"eg_noadapt", "eg_oracle", "specialization"}
    assert float(extra["eg_noadapt"]) == pytest.approx(
        float(metaloss.no_adaptation_error(Q, R, a, dist)), rel=1e-14)
    assert float(extra["eg_noadapt"]) == pytest.approx(
        float(metaloss.meta_test_error(Q, R, a, dist, 0.7, 0)), rel=1e-12)
    assert float(extra["eg_oracle"]) == pytest.approx(float(metaloss.oracle_error(Q, R, dist)),
                                                      rel=1e-14)
    assert float(extra["eg_oracle"]) <= float(eg)
    assert float(extra["specialization"]) == pytest.approx(
        float(observables.specialization_index(Q, R, dist.T)), rel=1e-14)


def test_teacher_subspace_fraction_from_microscopic_weights():
    """|P_B W_k|²/|W_k|² computed from (Q, R, T) equals the projection of explicit weights on
    the span of a non-orthogonal teacher; 1 inside the span, M/N on average for a random body."""
    from metarep.observables import teacher_subspace_fraction

    rng = np.random.default_rng(3)
    N, K, M = 40, 3, 2
    B = rng.normal(size=(M, N))
    W = rng.normal(size=(K, N))
    P = B.T @ np.linalg.solve(B @ B.T, B)                     # projector on span(B)
    expected = np.sum((W @ P) ** 2, axis=1) / np.sum(W**2, axis=1)
    got = teacher_subspace_fraction(W @ W.T / N, W @ B.T / N, B @ B.T / N)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    inside = rng.normal(size=(K, M)) @ B
    np.testing.assert_allclose(teacher_subspace_fraction(inside @ inside.T / N, inside @ B.T / N,
                                                         B @ B.T / N), 1.0, rtol=1e-12)
    many = rng.normal(size=(2000, N))       # E|P w|²/|w|² = M/N for isotropic w
    frac = teacher_subspace_fraction(many[:, None] @ many[:, :, None] / N,
                                     many[:, None] @ B.T / N, B @ B.T / N)
    assert abs(float(np.mean(frac)) - M / N) < 4 * float(np.std(frac)) / np.sqrt(2000)
