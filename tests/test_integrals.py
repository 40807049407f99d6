"""Closed-form Gaussian integrals (metarep.integrals) against Monte Carlo.

For each random covariance C (4×4, Wishart-like with entries of order one) we draw
n = 400 000 Gaussian vectors with NumPy, evaluate the integrands g, g', u with SciPy's erf,
and compare the sample mean with the closed form as a z-score (sample mean − closed form)/SE,
SE = sample std/√n. The bound |z| < 4 bounds the Monte-Carlo error; with a few hundred
correlated z-scores and fixed seeds a wrong formula (errors are O(0.01–1) against
SE ≈ 10⁻³) fails by tens of standard errors.
"""

import itertools

import numpy as np
import pytest
from scipy.special import erf

from metarep import integrals

N_MC = 400_000
Z_MAX = 4.0


def g(z):
    return erf(z / np.sqrt(2.0))


def dg(z):
    return np.sqrt(2.0 / np.pi) * np.exp(-0.5 * z**2)


def random_cov(rng, n=4):
    A = rng.normal(size=(n, n + 2)) / np.sqrt(n + 2)
    scale = rng.uniform(0.3, 2.0, size=n)
    return (A @ A.T) * np.sqrt(np.outer(scale, scale))


def z_score(samples, closed):
    mean = samples.mean()
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    return (mean - float(closed)) / se


@pytest.fixture(scope="module", params=[0, 1, 2])
def gaussian(request):
    rng = np.random.default_rng(1000 + request.param)
    C = random_cov(rng)
    u = rng.multivariate_normal(np.zeros(4), C, size=N_MC)
    return C, u


def sub(C, idx):
    idx = np.asarray(idx)
    return C[np.ix_(idx, idx)]


def test_i2_j2(gaussian):
    C, u = gaussian
    for i, j in itertools.product(range(4), repeat=2):
        c = sub(C, (i, j))
        assert abs(z_score(g(u[:, i]) * g(u[:, j]), integrals.i2_cov(c))) < Z_MAX
        assert abs(z_score(dg(u[:, i]) * dg(u[:, j]), integrals.j2_cov(c))) < Z_MAX


def test_i3(gaussian):
    C, u = gaussian
    for i, j, k in itertools.product(range(4), repeat=3):
        c = sub(C, (i, j, k))
        zs = z_score(dg(u[:, i]) * u[:, j] * g(u[:, k]), integrals.i3_cov(c))
        assert abs(zs) < Z_MAX, (i, j, k, zs)


def test_i4(gaussian):
    C, u = gaussian
    # all ordered 4-tuples with i <= j and k <= l (the integrand is symmetric under those swaps),
    # repeated fields included (they occur in the noise term, e.g. (k, k, k, k))
    for i, j, k, l in itertools.product(range(4), repeat=4):
        if i > j or k > l:
            continue
        c = sub(C, (i, j, k, l))
        zs = z_score(dg(u[:, i]) * dg(u[:, j]) * g(u[:, k]) * g(u[:, l]), integrals.i4_cov(c))
        assert abs(zs) < Z_MAX, (i, j, k, l, zs)


def test_entrywise_forms_broadcast_and_match_cov_forms():
    rng = np.random.default_rng(7)
    Cs = np.stack([random_cov(rng) for _ in range(5)])  # (5, 4, 4)
    got = integrals.i4(*(Cs[:, a, b] for a, b in
                         [(0, 0), (0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3), (2, 2), (2, 3),
                          (3, 3)]))
    assert got.shape == (5,)
    np.testing.assert_allclose(got, [integrals.i4_cov(c) for c in Cs], rtol=1e-14)
    # symmetries of I4: 1<->2 and 3<->4
    perm = Cs[:, [1, 0, 3, 2]][:, :, [1, 0, 3, 2]]
    np.testing.assert_allclose(integrals.i4_cov(perm), got, rtol=1e-12)


def test_i2_matrix():
    rng = np.random.default_rng(3)
    C = random_cov(rng, n=5)  # fields 0..2 = "a", 3..4 = "b"
    var_a, var_b, cross = np.diag(C)[:3], np.diag(C)[3:], C[:3, 3:]
    out = integrals.i2_matrix(cross, var_a, var_b)
    assert out.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            ref = integrals.i2(C[i, i], C[i, 3 + j], C[3 + j, 3 + j])
            assert out[i, j] == pytest.approx(float(ref), rel=1e-14)
    # batched
    outb = integrals.i2_matrix(np.stack([cross, 0.5 * cross]), np.stack([var_a, var_a]),
                               np.stack([var_b, var_b]))
    assert outb.shape == (2, 3, 2)
    np.testing.assert_allclose(outb[0], out, rtol=1e-14)


def test_known_values():
    # I2 of a field with itself: E[g(u)^2] = (2/π) arcsin(c/(1+c)); at c = 1: 1/3
    assert float(integrals.i2(1.0, 1.0, 1.0)) == pytest.approx(1.0 / 3.0, rel=1e-14)
    # independent fields: I2 = 0, J2 = E[g']^2 = (2/π)/(1+c) for equal variances c
    assert float(integrals.i2(1.0, 0.0, 2.0)) == 0.0
    assert float(integrals.j2(1.0, 0.0, 1.0)) == pytest.approx(1.0 / np.pi, rel=1e-14)


def test_arcsin_matches_numpy_and_its_derivatives():
    """integrals.arcsin (a series and one square root, used by I2, I4 and G4) is arcsin to
    rounding on all of [−1, 1] — both branches and the switch at |x| = ½ — and its first and
    second derivatives are those of arcsin (a custom JVP, so nested derivatives agree too)."""
    import jax
    import jax.numpy as jnp

    x = np.concatenate([np.linspace(-1.0, 1.0, 400_001), [0.0, 1e-300, -1e-300, 0.5, -0.5,
                        np.nextafter(0.5, 1.0), np.nextafter(-0.5, -1.0)]])
    got = np.asarray(jax.jit(integrals.arcsin)(jnp.asarray(x)))
    ref = np.arcsin(x)
    # at most 4 units in the last place of |arcsin x| (measured: 3)
    assert np.all(np.abs(got - ref) <= 4 * np.spacing(np.abs(ref)) + 1e-300)
    inner = x[np.abs(x) <= 0.99]
    d1 = jax.vmap(jax.grad(integrals.arcsin))(jnp.asarray(inner))
    d2 = jax.vmap(jax.grad(jax.grad(integrals.arcsin)))(jnp.asarray(inner))
    np.testing.assert_allclose(d1, 1.0 / np.sqrt(1.0 - inner**2), rtol=2e-15)
    np.testing.assert_allclose(d2, inner / (1.0 - inner**2) ** 1.5, rtol=1e-14, atol=1e-15)
    assert integrals.arcsin(jnp.float32(0.3)).dtype == jnp.float32
