"""Canary suite: is the numerical stack itself right on this machine?

jax/jaxlib 0.10.2 miscompiles on some x86 CPUs (jax-ml/jax#39103): under ``jit``, a vmapped
small matrix-vector product followed by a sum, ``vmap(lambda r: sum((m @ r) ** 2))(x)``,
returns relative errors from 0.1 up to ~10⁴ once the batch exceeds 2¹⁴ = 16384 rows. The
project vmaps exactly this pattern (drift tests, Monte-Carlo estimates), so a wrong compiler
would silently corrupt the book. These tests compare the pattern, at batch sizes straddling
2¹⁴ and several small dimensions, in float64 and float32, with NumPy; and the project's own
large batched reductions with the same computation done in small chunks.

A failure means the installed JAX computes wrong numbers: reinstall the pinned versions
(``requirements.txt``; 0.10.1 passes here) before trusting anything else.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import metarep  # noqa: F401  (float64 on)

SIZES = (16383, 16384, 16385, 20000, 65536)
DIMS = (2, 3, 5, 6, 8)
#: Tolerances of the two precisions: a correct reduction of d ≤ 8 squares of sums of d
#: products is exact to a few ulps; the miscompile is off by O(1).
RTOL = {"float64": 1e-12, "float32": 1e-4}
MESSAGE = ("the installed JAX miscompiles a vmapped matrix-vector product followed by a sum "
           "(jax-ml/jax#39103: jax/jaxlib 0.10.2 on this CPU): install the versions pinned "
           "in requirements.txt (make venv) before trusting any result")



@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("d", DIMS)
def test_vmapped_matvec_then_sum_is_right(d, dtype):
    """vmap(r ↦ Σ (m r)²) under jit, with m a closure constant and an argument, against NumPy."""
    rng = np.random.default_rng(d)
    m = rng.standard_normal((d, d)).astype(dtype)
    worst = []
    for n in SIZES:
        x = rng.standard_normal((n, d)).astype(dtype)
        ref = np.sum((x.astype(float) @ m.T.astype(float)) ** 2, axis=1)
        closure = jax.jit(jax.vmap(lambda r: jnp.sum((jnp.asarray(m) @ r) ** 2)))
        argument = jax.jit(jax.vmap(lambda mm, r: jnp.sum((mm @ r) ** 2), (None, 0)))
        for got in (closure(jnp.asarray(x)), argument(jnp.asarray(m), jnp.asarray(x))):
            err = np.max(np.abs(np.asarray(got, dtype=float) - ref) / np.abs(ref))
            worst.append((float(err), n))
    err, n = max(worst)
    assert err < RTOL[dtype], f"{MESSAGE} (d = {d}, {dtype}: relative error {err:.3g} at n = {n})"


def test_large_batched_mean_matches_chunks():
    """A batched reduction over 2¹⁵ + 1 items in one jitted vmap equals the same reduction
    over chunks of 4096 (the batch size XLA handles correctly everywhere)."""
    rng = np.random.default_rng(7)
    n, d = 2**15 + 1, 5
    m = jnp.asarray(rng.standard_normal((d, d)))
    x = jnp.asarray(rng.standard_normal((n, d)))
    f = jax.jit(lambda x: jnp.mean(jax.vmap(lambda r: jnp.sum(jnp.tanh(m @ r) * r))(x)))
    chunks = [np.asarray(jax.vmap(lambda r: jnp.sum(jnp.tanh(m @ r) * r))(x[i:i + 4096]))
              for i in range(0, n, 4096)]
    ref = np.concatenate(chunks).mean()
    assert abs(float(f(x)) - ref) < 1e-12 * max(1.0, abs(ref)), MESSAGE


def test_simulator_increments_do_not_depend_on_the_batch():
    """The drift test's samples (:func:`metarep.simulator.step_increments`) are the same
    numbers whether 2¹⁴ + 8 steps are drawn in one call or in chunks of 8 (each step has its
    own key, so only a miscompiled batch could tell them apart)."""
    from metarep.config import Config
    from metarep.initial import initial_weights
    from metarep.simulator import _increments, params_of, spec_of

    cfg = Config(K=2, M=2, N=20, eta_in=0.5, v_std=0.5)
    B, W, a = (jnp.asarray(x) for x in initial_weights(cfg))
    key = jax.random.PRNGKey(3)
    n = 2**14 + 8
    spec, prm = spec_of(cfg), params_of(cfg)
    whole = _increments(W, a, B, key, jnp.asarray(0), prm, spec, n)
    parts = [_increments(W, a, B, key, jnp.asarray(start), prm, spec, 8) for start in (0, 8)]
    for name in ("Q", "R", "a"):
        got, ref = np.asarray(whole[name][:16]), np.concatenate([p[name] for p in parts])
        assert np.allclose(got, ref, rtol=1e-12, atol=1e-12), f"{MESSAGE} ({name})"
        assert np.isfinite(np.asarray(whole[name])).all(), MESSAGE
