"""Monte-Carlo averages over jointly Gaussian fields, to check closed forms on screen.

The book compares each closed-form integral with a direct sample average; this module draws
the samples so that chapters hold only calls.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np


def gaussian_fields(C, n_samples: int, seed: int = 0) -> jax.Array:
    """n_samples draws of zero-mean Gaussian vectors u with covariance C (d, d): shape (n, d)."""
    C = jnp.asarray(C, dtype=jnp.float64)
    L = jnp.linalg.cholesky(C + 1e-300 * jnp.eye(C.shape[0]))
    z = jax.random.normal(jax.random.PRNGKey(seed), (n_samples, C.shape[0]), jnp.float64)
    return z @ L.T


def gaussian_average(integrand: Callable[[jax.Array], jax.Array], C, n_samples: int = 10**6,
                     seed: int = 0) -> tuple[float, float]:
    """Sample mean of ``integrand(u)`` over u ~ N(0, C) and its standard error.

    ``integrand`` maps the (n, d) array of samples to (n,) values, e.g.
    ``lambda u: g(u[:, 0]) * g(u[:, 1])``. Returns (mean, sem) with sem = std/√n.
    """
    values = np.asarray(integrand(gaussian_fields(C, n_samples, seed)))
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(n_samples))
