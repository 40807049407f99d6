"""The simulator's normal generator (metarep.gaussian): accuracy of its pieces and its law.

Statistical checks use 2²² numbers from fixed keys; each bounds a z-score (or the scaled KS
distance) at a level a correct N(0, 1) generator exceeds with probability ≲ 10⁻³ per check.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import metarep  # noqa: F401  (float64)
from metarep.gaussian import normal, sincos_turn, unit_interval

N_DRAW = 2**22


@pytest.fixture(scope="module")
def z():
    return np.asarray(jax.jit(lambda k: normal(k, (N_DRAW,)))(jax.random.PRNGKey(11)))


def test_unit_interval_is_exact():
    """52 high bits → k·2⁻⁵², k the bits' integer value: endpoints and a generic word."""
    bits = jnp.array([0, 2**64 - 1, 0x123456789ABCDEF0], dtype=jnp.uint64)
    u = np.asarray(unit_interval(bits))
    assert u[0] == 0.0 and u[1] == 1.0 - 2.0**-52
    assert u[2] == (0x123456789ABCDEF0 >> 12) * 2.0**-52


def test_sincos_turn_matches_numpy():
    """sin/cos of 2πu to 1e-15 absolute (numpy's own error in forming 2πu is ≈ 7e-16)."""
    u = np.concatenate([np.linspace(0, 1, 1_000_001)[:-1], [0.25, 0.5, 0.75, 1 - 2.0**-52]])
    s, c = (np.asarray(x) for x in jax.jit(sincos_turn)(jnp.asarray(u)))
    np.testing.assert_allclose(s, np.sin(2 * np.pi * u), rtol=0, atol=1e-15)
    np.testing.assert_allclose(c, np.cos(2 * np.pi * u), rtol=0, atol=1e-15)
    assert s[-4] == 1.0 and c[-3] == -1.0 and s[-2] == -1.0   # exact at quarter turns


def test_shape_dtype_and_determinism():
    key = jax.random.PRNGKey(0)
    x = normal(key, (3, 5))
    assert x.shape == (3, 5) and x.dtype == jnp.float64
    np.testing.assert_array_equal(x, normal(key, (3, 5)))
    assert not np.array_equal(x, normal(jax.random.PRNGKey(1), (3, 5)))
    np.testing.assert_array_equal(normal(key, (4,), jnp.float32),
                                  jax.random.normal(key, (4,), jnp.float32))


def test_moments(z):
    """Mean, variance and fourth moment: z-scores with the exact N(0, 1) standard errors
    √(1/n), √(2/n), √(96/n)."""
    n = z.size
    assert abs(z.mean()) / np.sqrt(1 / n) < 4
    assert abs(z.var() - 1) / np.sqrt(2 / n) < 4
    assert abs(np.mean(z**4) - 3) / np.sqrt(96 / n) < 4


def test_distribution(z):
    """Kolmogorov–Smirnov: √n D < 1.95 (asymptotic level 0.001), and tail counts beyond
    |z| = 3, 4 within 4 binomial standard deviations."""
    assert np.sqrt(z.size) * stats.kstest(z, "norm").statistic < 1.95
    for t in (3.0, 4.0):
        p = 2 * stats.norm.sf(t)
        count = np.sum(np.abs(z) > t)
        assert abs(count - z.size * p) / np.sqrt(z.size * p * (1 - p)) < 4


def test_pairs_are_independent(z):
    """The two numbers of a Box–Muller pair (first and second half of the array): their
    correlation and the correlation of their squares vanish within 4/√n."""
    h = z.size // 2
    for f in (lambda x: x, np.square):
        r = np.corrcoef(f(z[:h]), f(z[h:]))[0, 1]
        assert abs(r) * np.sqrt(h) < 4
