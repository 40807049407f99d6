"""metarep.studies.odes: the on-screen checks of the drift's ingredients (book/odes.md).

The checks must pass for the library's formulas and must have the power to fail for wrong
ones: the finite-difference ladder follows the h² law, and the Monte-Carlo test rejects the
task average taken at the mean readout (the Isserlis terms dropped)."""

import jax.numpy as jnp
import numpy as np
import pytest

from metarep import analysis, metaloss
from metarep.config import Config
from metarep.studies import odes

CFG = Config(K=3, M=2, eta_in=0.5, inner_steps=2, v_mean=1.0, v_std=1.0, teacher_spread=0.2,
             label_noise=0.1)


@pytest.fixture(scope="module")
def state():
    return odes.check_state(CFG.K, CFG.M, seed=3)


def test_check_state_is_a_valid_covariance(state):
    (Q, R, a), T = state
    omega = np.block([[np.asarray(Q), np.asarray(R)], [np.asarray(R).T, T]])
    assert np.linalg.eigvalsh(omega).min() > 0
    assert a.shape == (CFG.K,)


def test_central_differences_have_the_h2_error_of_a_cubic():
    f = lambda x: jnp.sum(x**3)  # noqa: E731 - derivative 3x², truncation h² exactly
    x = jnp.array([0.3, -1.2])
    for h in (1e-1, 1e-2):
        np.testing.assert_allclose(odes._central(f, x, h), 3 * x**2 + h**2, rtol=1e-9)


def test_autodiff_derivatives_follow_the_truncation_law(state):
    st, T = state
    d = odes.derivative_check(CFG, st, T, h0=1e-2, halvings=3)
    curved = [i for i, n in enumerate(d.names) if n != "dF/da"]
    np.testing.assert_allclose(d.ratios()[curved], 4.0, rtol=1e-2)
    assert np.all(d.richardson[curved] < 1e-2 * d.deviation[curved, 1:])
    assert np.all(d.deviation[d.names.index("dF/da")] < 1e-10)   # F is quadratic in a


def test_task_averages_agree_and_the_test_has_power(state):
    st, T = state
    avg = odes.task_average_check(CFG, st, 5000, seed=4, T=T)
    assert avg.names[0] == "F" and len(avg.names) == 1 + CFG.K * (CFG.K + 1) // 2
    assert avg.test.ok, avg.z
    # the averages at the mean readout v̄ (no Isserlis terms, no quadratic average) are wrong
    dist = metaloss.task_dist(CFG)._replace(v_std=jnp.float64(0.0))
    Q, R, a = st
    kk, ll = np.triu_indices(CFG.K)
    naive = np.concatenate([
        [float(metaloss.meta_test_error(Q, R, a, dist, CFG.eta_in, CFG.inner_steps))],
        np.asarray(metaloss.noise_term(Q, R, a, dist, CFG.eta_in, CFG.inner_steps))[kk, ll]])
    assert not analysis.agreement(avg.samples, naive).ok


def test_first_rejection_is_holms_first_step():
    from scipy import stats

    m, rate, dof = 7, 1e-3, 999
    z = odes.first_rejection(m, rate, dof)
    others = np.full(m - 1, 0.5)
    for factor, rejected in ((0.999, False), (1.001, True)):
        p = np.concatenate([[2 * stats.t.sf(z * factor, dof)], others])
        assert analysis.holm(p, rate).any() == rejected
