"""Shared pieces of the test suite: closed-form trajectories, grids and states.

Test modules import this module (and ``chapters``), never each other (checked by
``tests/test_suite_layout.py``). Everything here is deterministic and cheap (no ODE
integration, no simulation), except the single steps of the drift test
(:func:`drift_two_sizes`, shared by tests/test_drift.py and tests/test_support.py).
"""

from __future__ import annotations

import numpy as np

from metarep.config import Config
from metarep.trajectory import Trajectory

def specializing_run(n_seeds: int | None = None, K: int = 2, M: int = 2,
                     alpha_max: float = 20.0, records: int = 81) -> Trajectory:
    """A closed-form trajectory shaped like a meta-training run: the error sits on a plateau,
    then the unit k aligns with teacher unit k (a logistic switch at α = 8) while its norm
    grows. With ``n_seeds``, seeded Gaussian scatter (std 0.02) imitates a simulation."""
    cfg = Config(K=K, M=M, N=500, alpha_max=alpha_max, record_every=alpha_max / (records - 1))
    alpha = np.linspace(0.0, alpha_max, records)
    s = 1.0 / (1.0 + np.exp(-(alpha - 8.0)))                         # specialization switch
    q_norm = 0.2 + 0.8 * s
    R = np.zeros((records, K, M))
    for k in range(K):
        for m in range(M):
            R[:, k, m] = (0.3 * (1 - s) + s) * q_norm if k % M == m else 0.3 * (1 - s) * q_norm
    Q = np.einsum("n,kl->nkl", q_norm**2, np.eye(K)) + 0.05 * (1 - s)[:, None, None]
    a = np.outer(0.5 + 0.5 * s, np.ones(K))
    eg = 0.02 + 0.3 * (1 - s) * np.exp(-alpha / 40.0)
    if n_seeds is None:
        return Trajectory(alpha, Q, R, a, eg, config=cfg)
    rng = np.random.default_rng(0)
    jitter = lambda x: x + 0.02 * rng.standard_normal((n_seeds, *x.shape))  # noqa: E731
    return Trajectory(alpha, jitter(Q), jitter(R), jitter(a), np.abs(jitter(eg)),
                      seeds=np.arange(n_seeds), config=cfg)


def synthetic_grid(names=("eta", "eta_in"), n_alpha=11):
    """A small closed-form :class:`metarep.studies.hyperparameters.RateGrid` (for tests and
    figure cases): fastest specialization along η·η_in = 2, diverged runs (NaN after α = 10)
    where the rates are large."""
    from metarep.studies import hyperparameters as hp

    values = tuple(np.geomspace(0.25, 4.0, 5) if n == "eta" else np.geomspace(0.5, 8.0, 5)
                   for n in names)
    mesh = np.meshgrid(*values, indexing="ij")
    shape = mesh[0].shape
    alpha = np.linspace(0.0, 20.0, n_alpha)
    x = sum(np.log(m) for m in mesh)                         # log of the product of rates
    rate = np.exp(-((x - np.log(2.0)) ** 2))[..., None]     # fastest along η·η_in = 2
    spec = 1 - np.exp(-rate * alpha / 4)
    eg = 0.02 + 0.4 * np.exp(-rate * alpha / 8)
    stiff = np.broadcast_to((mesh[-1] / 3)[..., None], (*shape, n_alpha)) * (0.5 + spec / 2)
    norm = np.broadcast_to(mesh[0][..., None], (*shape, n_alpha)) * (0.1 + spec)
    diverged = mesh[-1] * mesh[0] > 20 if len(names) > 1 else mesh[0] > 6
    nan = diverged[..., None] & (alpha > 10)
    eg, spec, stiff = (np.where(nan, np.nan, z) for z in (eg, spec, stiff))
    K = 2
    Q = np.broadcast_to(np.eye(K), (*shape, K, K)).copy()
    R = np.broadcast_to(np.eye(K), (*shape, K, K)).copy()
    a = np.ones((*shape, K))
    return hp.RateGrid(tuple(names), values, "synthetic", alpha, eg, spec, stiff, norm,
                       diverged, Q, R, a)


def switching_run(n_seeds: int | None = None) -> Trajectory:
    """Records at α = 0, 1, …, 10 whose units switch from the mixed state (R = ½, every
    cosine ½: specialization index 0) to the teacher's (R = I: index 1) between α = 4 and
    α = 5."""
    alpha = np.arange(11.0)
    s = (alpha >= 5).astype(float)
    R = (np.einsum("n,km->nkm", 1 - s, 0.5 * np.ones((2, 2)))
         + np.einsum("n,km->nkm", s, np.eye(2)))
    Q = np.broadcast_to(np.eye(2), (11, 2, 2)).copy()
    a, eg = np.zeros((11, 2)), np.ones(11)
    if n_seeds is None:
        return Trajectory(alpha, Q, R, a, eg)
    rep = lambda x: np.stack([x] * n_seeds)  # noqa: E731
    return Trajectory(alpha, rep(Q), rep(R), rep(a), rep(eg), seeds=np.arange(n_seeds))


def random_state(rng: np.random.Generator, K: int = 2, M: int = 2, extra: int = 2):
    """A realisable state (Q, R, a) with T = I: W = X [B; Z] with orthonormal B, Z rows, so
    Q = X Xᵀ and R = X[:, :M] (X: K × (M + extra) standard normal)."""
    X = rng.standard_normal((K, M + extra))
    return X @ X.T, X[:, :M].copy(), rng.standard_normal(K)


#: Single meta-training steps of the drift test at cfg.N (a quarter of them at DRIFT_SMALL).
DRIFT_STEPS = 40_000
DRIFT_SMALL = 250


def increment_stats(cfg, key: int, n_steps: int = DRIFT_STEPS):
    """SeedStats of n_steps single-step increments N·Δ(Q, R, a) (entries of
    ``metarep.linear.state_vector``) from the microscopic state of cfg."""
    import jax

    from metarep import simulator
    from metarep.analysis import seed_stats
    from metarep.initial import initial_weights
    from metarep.linear import state_vector

    B, W, a = initial_weights(cfg)
    inc = simulator.step_increments(cfg, W, B, a, jax.random.PRNGKey(key), n_steps)
    return seed_stats(np.asarray(state_vector(inc["Q"], inc["R"], inc["a"])))


def drift_theory(cfg) -> np.ndarray:
    """The ODE's drift (entries of state_vector) at the overlaps of cfg's microscopic state."""
    from metarep import drift
    from metarep.initial import initial_weights, overlaps
    from metarep.linear import state_vector

    B, W, a = initial_weights(cfg)
    Q, R, T = overlaps(W, B)
    return np.asarray(state_vector(*drift.rhs((Q, R, a), cfg, T=T)))


def drift_two_sizes(cfg, key: int) -> dict:
    """Increment statistics at cfg.N and at DRIFT_SMALL = N/4, with a quarter of the steps
    there: the extrapolation (4 m_N − m_small)/3 weighs the small size by 1/3, so its standard
    error grows only from 1.37 to 1.49 times that of m_N."""
    return {DRIFT_SMALL: increment_stats(cfg.replace(N=DRIFT_SMALL), key + 100,
                                         DRIFT_STEPS // 4),
            cfg.N: increment_stats(cfg, key)}
