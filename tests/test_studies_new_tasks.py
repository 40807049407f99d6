"""metarep.studies.new_tasks: adaptation curves, trained microscopic weights, few-shot errors."""

import jax
import numpy as np
import pytest

from metarep import metaloss
from metarep.config import Config
from metarep.initial import initial_weights
from metarep.simulator import simulate
from metarep.studies import new_tasks as nt

CFG = Config(K=2, M=2, N=100, eta_in=0.8, v_mean=0.5, v_std=1.0, alpha_max=1.0,
             record_every=1.0)


def _states(n=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2, 4))              # W = X [B; Z], T = I
    return X @ np.swapaxes(X, 1, 2), X[:, :, :2], rng.standard_normal((n, 2))


def test_adaptation_curves_are_the_meta_loss_with_s_steps():
    Q, R, a = _states()
    dist = metaloss.task_dist(CFG)
    steps = [0, 1, 3]
    got = nt.adaptation_curves(Q, R, a, dist, 0.8, steps)
    want = [[float(metaloss.meta_test_error(q, r, h, dist, 0.8, s)) for s in steps]
            for q, r, h in zip(Q, R, a)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(nt.oracle_errors(Q, R, dist),
                               [float(metaloss.oracle_error(q, r, dist)) for q, r in zip(Q, R)],
                               rtol=1e-12)


@pytest.fixture(scope="module")
def trained():
    return nt.train_microscopic(CFG, [0, 1])


def test_initial_networks_are_the_shared_initialisation():
    st = nt.initial_networks(CFG, [3])
    B, W, a = initial_weights(CFG.replace(seed=3))
    np.testing.assert_array_equal(st.W[0], W)
    np.testing.assert_array_equal(st.B[0], B)
    assert st.alpha == 0.0


def test_train_microscopic_runs_the_steps_of_simulate(trained):
    """Same seeds, same task stream: the final order parameters equal simulate's (rounding)."""
    sim = simulate(CFG, seeds=[0, 1], progress=False)
    Q, R, T = trained.order_parameters()
    assert trained.alpha == CFG.alpha_max
    np.testing.assert_allclose(Q, sim.Q[:, -1], atol=1e-10)
    np.testing.assert_allclose(R, sim.R[:, -1], atol=1e-10)
    np.testing.assert_allclose(trained.a, sim.a[:, -1], atol=1e-10)
    np.testing.assert_allclose(T, np.broadcast_to(np.eye(2), T.shape), atol=1e-12)


def test_few_shot_population_support_matches_the_closed_form(trained):
    """P = "inf": the Monte-Carlo error after one step at each seed's weights agrees with
    the closed form at its measured (Q, R, a) within 4 standard errors (exact at any N)."""
    res = nt.few_shot(CFG, trained, ["inf", 3], jax.random.PRNGKey(0), n_tasks=400)
    Q, R, _ = trained.order_parameters()
    exact = nt.adaptation_curves(Q, R, trained.a, metaloss.task_dist(CFG), CFG.eta_in, [1])
    assert res.per_seed.shape == (2, 2) and res.steps == 1 and res.eta_in == CFG.eta_in
    assert np.all(np.abs(res.per_seed[:, 0] - exact[:, 0]) < 4 * res.per_seed_sem[:, 0])
    np.testing.assert_allclose(res.mean, res.per_seed.mean(axis=0))
    np.testing.assert_allclose(res.sem, res.per_seed.std(axis=0, ddof=1) / np.sqrt(2))
