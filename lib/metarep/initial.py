"""The meta-teacher and the initial meta-learner, shared by the ODE and the simulator.

Both sides of every comparison start from the same numbers: the simulator from the
microscopic weights built here, the ODE from their overlaps (SPEC §4). The random streams are
derived from the seed once, by :func:`split_keys`:

* ``teacher`` draws the meta-teacher's first layer B (M×N),
* ``student`` draws the initial body W (K×N) (or the orthogonal complement that realises
  prescribed overlaps),
* ``run`` is the simulator's stream of tasks and samples.

Overlaps (order parameters): Q = W Wᵀ/N (K×K), R = W Bᵀ/N (K×M), T = B Bᵀ/N (M×M).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import numpy as np

from metarep.compile_cache import persistent_jit
from metarep.config import Config
from metarep.errors import ConfigError


class Keys(NamedTuple):
    """Independent PRNG keys derived from one seed."""

    teacher: jax.Array
    student: jax.Array
    run: jax.Array


class OrderParameters(NamedTuple):
    """Macroscopic state: Q (K, K), R (K, M), head a (K,), teacher overlaps T (M, M)."""

    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    T: np.ndarray


@persistent_jit
def _seed_keys(seed):
    return jax.random.split(jax.random.PRNGKey(seed), 3)


@partial(persistent_jit, static_argnames="shape")
def _normal_draw(key, shape):
    return jax.random.normal(key, shape, dtype=np.float64)


def split_keys(seed: int) -> Keys:
    """The teacher, student and run keys of ``seed`` (fixed once and for all)."""
    return Keys(*_seed_keys(np.int64(seed)))


def _normal(key: jax.Array, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(_normal_draw(key, shape=tuple(shape)))


def _orthonormal_rows(G: np.ndarray) -> np.ndarray:
    """Rows spanning the same space as those of G, orthonormal (Gram–Schmidt via QR)."""
    q, r = np.linalg.qr(G.T)
    return (q * np.sign(np.diag(r))).T


def teacher_weights(cfg: Config) -> np.ndarray:
    """Meta-teacher first layer B, shape (M, N), float64.

    ``teacher = "orthogonal"``: orthogonal rows of norm √N, so T = B Bᵀ/N = I exactly.
    ``teacher = "gaussian"``: i.i.d. N(0, 1) entries, T = I + O(1/√N).
    """
    G = _normal(split_keys(cfg.seed).teacher, (cfg.M, cfg.N))
    if cfg.teacher == "gaussian":
        return G
    return np.sqrt(cfg.N) * _orthonormal_rows(G)


def overlaps(W: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order parameters of microscopic weights: Q = W Wᵀ/N, R = W Bᵀ/N, T = B Bᵀ/N."""
    N = W.shape[-1]
    return W @ W.T / N, W @ B.T / N, B @ B.T / N


def _realise(Q0: np.ndarray, R0: np.ndarray, B: np.ndarray, key: jax.Array) -> np.ndarray:
    """A body W (K, N) with W Wᵀ/N = Q0 and W Bᵀ/N = R0 exactly (to rounding).

    W = R0 T⁻¹ B + Z, Z ⟂ rows of B, Z Zᵀ/N = S = Q0 − R0 T⁻¹ R0ᵀ (must be ⪰ 0).
    """
    (K, M), N = R0.shape, B.shape[1]
    if K + M > N:
        raise ConfigError(f"explicit Q0/R0 need K + M <= N, got K + M = {K + M} > N = {N}")
    T = B @ B.T / N
    S = Q0 - R0 @ np.linalg.solve(T, R0.T)
    evals, evecs = np.linalg.eigh((S + S.T) / 2)
    if evals.min() < -1e-10:
        raise ConfigError(
            f"Q0, R0 are not realisable with this teacher: Q0 − R0 T⁻¹ R0ᵀ has eigenvalue "
            f"{evals.min():.3g} < 0")
    sqrt_S = evecs * np.sqrt(np.clip(evals, 0, None))
    G = _normal(key, (K, N))
    G = G - np.linalg.solve(T, B @ G.T / N).T @ B  # project out the teacher subspace
    Z = np.sqrt(N) * sqrt_S @ _orthonormal_rows(G)
    return R0 @ np.linalg.solve(T, B) + Z


def initial_weights(cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Microscopic initial state (B (M, N), W (K, N), a (K,)), all float64.

    With ``Q0``/``R0`` set, W realises them exactly; otherwise W has i.i.d.
    N(0, init_scale²) entries. The head starts at ``a0`` (default 0).
    """
    B = teacher_weights(cfg)
    key = split_keys(cfg.seed).student
    if cfg.Q0 is None:
        W = cfg.init_scale * _normal(key, (cfg.K, cfg.N))
    else:
        W = _realise(cfg.Q0_array, cfg.R0_array, B, key)
    return B, W, cfg.a0_array


def initial_order_parameters(cfg: Config) -> OrderParameters:
    """The order parameters the simulator starts from with the same seed and N.

    For explicit overlaps and an orthogonal teacher this is (Q0, R0, a0, I) without building
    any N-dimensional array.
    """
    if cfg.Q0 is not None and cfg.teacher == "orthogonal":
        return OrderParameters(cfg.Q0_array, cfg.R0_array, cfg.a0_array, np.eye(cfg.M))
    B, W, a = initial_weights(cfg)
    Q, R, T = overlaps(W, B)
    if cfg.teacher == "orthogonal":
        T = np.eye(cfg.M)  # exact by construction; drop the rounding error
    return OrderParameters(Q, R, a, T)
