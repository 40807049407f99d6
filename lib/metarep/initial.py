"""The meta-teacher and the initial meta-learner, shared by the ODE and the simulator.

Both sides of every comparison start from the same numbers: the ODE from the overlaps drawn
here, the simulator from microscopic weights that realise exactly these overlaps. The random
streams are derived from the seed once and for all:

* the ``teacher`` stream (:func:`stream`) draws the meta-teacher: its overlaps T = B Bᵀ/N
  and the directions of its rows,
* the ``student`` stream draws the initial body's overlaps with the teacher and itself, and
  the directions that realise them,
* ``split_keys(seed).run`` is the simulator's (JAX) stream of tasks and samples.

The two initial streams are NumPy generators (PCG64 seeded with the seed and the stream's
name), so that the initial state costs no JAX compilation.

Overlaps (order parameters): Q = W Wᵀ/N (K×K), R = W Bᵀ/N (K×M), T = B Bᵀ/N (M×M).

**The overlaps come first, from their exact law.** A random initial body has i.i.d.
N(0, s²) entries (s = ``init_scale``), and a Gaussian teacher i.i.d. N(0, 1) entries. Stack
X = [B; W/s] ((M + K) × N, i.i.d. standard normal). By Bartlett's decomposition X = L F with
F a uniformly random (Haar) set of M + K orthonormal rows in ℝᴺ and L lower triangular,
independent of F, with L_ii² ~ χ²(N − i) (i = 0, 1, …) and standard normal entries below the
diagonal. Hence, with L_B the teacher's block (M×M), L_WB (K×M) and L_W (K×K),

    T = L_B L_Bᵀ/N,   R = s L_WB L_Bᵀ/N,   Q = s² (L_WB L_WBᵀ + L_W L_Wᵀ)/N,

which costs O((K + M)²) random numbers whatever N is (the ODE never builds an N-dimensional
array). The orthogonal teacher (rows of norm √N, T = I) is L_B = √N I. The simulator then
builds B = L_B F_B (F_B: Haar rows) and a body W with exactly the drawn (Q, R)
(:func:`realise`), whose law given B is again that of i.i.d. N(0, s²) entries. For the
degenerate sizes N < K + M the weights are drawn directly instead.
"""

from __future__ import annotations

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


def split_keys(seed: int) -> Keys:
    """The teacher, student and run JAX keys of ``seed`` (the simulator uses ``run``)."""
    return Keys(*_seed_keys(np.int64(seed)))


#: The initial random streams and their parts (fixed once and for all).
_STREAMS = {("teacher", "factor"): 0, ("teacher", "directions"): 1,
            ("student", "overlaps"): 2, ("student", "directions"): 3}


def stream(seed: int, name: str, part: str) -> np.random.Generator:
    """The NumPy generator of one initial stream (``name`` teacher or student) and ``part``
    of ``seed``: independent of every other (seed, name, part)."""
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[name, part]]))


def _bartlett(rng: np.random.Generator, df: int, dim: int) -> np.ndarray:
    """Lower-triangular L (dim, dim) with L_ii² ~ χ²(df − i) and N(0, 1) entries below the
    diagonal: L Lᵀ ~ Wishart(df, I_dim) (needs df ≥ dim)."""
    chi2 = rng.chisquare(df - np.arange(dim))
    return np.diag(np.sqrt(chi2)) + np.tril(rng.standard_normal((dim, dim)), -1)


def _orthonormal_rows(G: np.ndarray) -> np.ndarray:
    """Rows spanning the same space as those of G, orthonormal (Gram–Schmidt via QR); for a
    Gaussian G they are Haar-distributed."""
    q, r = np.linalg.qr(G.T)
    return (q * np.sign(np.diag(r))).T


def _direct(cfg: Config) -> bool:
    """Sizes too small for the overlaps-first construction (N < K + M)."""
    return cfg.N < cfg.K + cfg.M


def _teacher_factor(cfg: Config) -> np.ndarray:
    """L_B (M, M) with T = L_B L_Bᵀ/N: √N I (orthogonal teacher) or Bartlett's factor of a
    Gaussian teacher."""
    if cfg.teacher == "orthogonal":
        return np.sqrt(cfg.N) * np.eye(cfg.M)
    return _bartlett(stream(cfg.seed, "teacher", "factor"), cfg.N, cfg.M)


def teacher_weights(cfg: Config) -> np.ndarray:
    """Meta-teacher first layer B, shape (M, N), float64.

    ``teacher = "orthogonal"``: orthogonal rows of norm √N, so T = B Bᵀ/N = I exactly.
    ``teacher = "gaussian"``: i.i.d. N(0, 1) entries (built as B = L_B F_B, see the module
    docstring), T = I + O(1/√N).
    """
    G = stream(cfg.seed, "teacher", "directions").standard_normal((cfg.M, cfg.N))
    if _direct(cfg) and cfg.teacher == "gaussian":
        return G
    return _teacher_factor(cfg) @ _orthonormal_rows(G)


def teacher_overlaps(cfg: Config) -> np.ndarray:
    """T = B Bᵀ/N (M, M) of :func:`teacher_weights` (I for the orthogonal teacher), without
    building B."""
    if cfg.teacher == "orthogonal":
        return np.eye(cfg.M)
    if _direct(cfg):
        B = teacher_weights(cfg)
        return B @ B.T / cfg.N
    L = _teacher_factor(cfg)
    return L @ L.T / cfg.N


def overlaps(W: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order parameters of microscopic weights: Q = W Wᵀ/N, R = W Bᵀ/N, T = B Bᵀ/N."""
    N = W.shape[-1]
    return W @ W.T / N, W @ B.T / N, B @ B.T / N


def realise(Q0: np.ndarray, R0: np.ndarray, B: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """A body W (K, N) with W Wᵀ/N = Q0 and W Bᵀ/N = R0 exactly (to rounding).

    W = R0 T⁻¹ B + Z, Z ⟂ rows of B, Z Zᵀ/N = S = Q0 − R0 T⁻¹ R0ᵀ (must be ⪰ 0); the rows of
    Z/√N are √S times Haar-random orthonormal directions orthogonal to B.
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
    G = rng.standard_normal((K, N))
    G = G - np.linalg.solve(T, B @ G.T / N).T @ B  # project out the teacher subspace
    Z = np.sqrt(N) * sqrt_S @ _orthonormal_rows(G)
    return R0 @ np.linalg.solve(T, B) + Z


def _random_overlaps(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """(Q, R) of a random initial body from their exact law (module docstring; N ≥ K + M)."""
    K, M, N, s = cfg.K, cfg.M, cfg.N, cfg.init_scale
    rng = stream(cfg.seed, "student", "overlaps")
    L_B = _teacher_factor(cfg)
    L_WB = rng.standard_normal((K, M))
    L_W = _bartlett(rng, N - M, K)
    return s**2 * (L_WB @ L_WB.T + L_W @ L_W.T) / N, s * L_WB @ L_B.T / N


def initial_weights(cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Microscopic initial state (B (M, N), W (K, N), a (K,)), all float64.

    With ``Q0``/``R0`` set, W realises them exactly; otherwise W realises the random overlaps
    of :func:`initial_order_parameters` (its law is that of i.i.d. N(0, init_scale²) entries).
    The head starts at ``a0`` (default 0).
    """
    B = teacher_weights(cfg)
    rng = stream(cfg.seed, "student", "directions")
    if cfg.Q0 is not None:
        W = realise(cfg.Q0_array, cfg.R0_array, B, rng)
    elif _direct(cfg):
        W = cfg.init_scale * rng.standard_normal((cfg.K, cfg.N))
    else:
        W = realise(*_random_overlaps(cfg), B, rng)
    return B, W, cfg.a0_array


def initial_order_parameters(cfg: Config) -> OrderParameters:
    """The order parameters the simulator starts from with the same seed and N, drawn without
    any N-dimensional array (except for the degenerate sizes N < K + M)."""
    if cfg.Q0 is not None:
        return OrderParameters(cfg.Q0_array, cfg.R0_array, cfg.a0_array, teacher_overlaps(cfg))
    if _direct(cfg):
        B, W, a = initial_weights(cfg)
        Q, R, T = overlaps(W, B)
        return OrderParameters(Q, R, a, np.eye(cfg.M) if cfg.teacher == "orthogonal" else T)
    Q, R = _random_overlaps(cfg)
    return OrderParameters(Q, R, cfg.a0_array, teacher_overlaps(cfg))
