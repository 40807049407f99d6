"""metarep.divergence: when a run counts as diverged, and which configuration key the message
blames — one policy for the ODE and the simulator, measured at the last finite state.

The review cases (K = M = 2, α_max ≤ 20): each configuration below was checked to really
diverge (or, for a too large dt, to be only inaccurate) and the message must name the key to
change. The inner-loop cases start from a body of norm 1 (``init_scale = 1``, C ≈ I/3):
from the default tiny body (C ≈ 0.006 I) η_in = 50 neither diverges nor is unstable at first;
it is only an inaccurate integration (AccuracyError naming dt) up to α = 100.
"""

import re

import jax.numpy as jnp
import numpy as np
import pytest

from metarep import divergence, metaloss, observables, ode
from metarep.config import Config
from metarep.errors import AccuracyError, DivergenceError

SMALL = dict(K=2, M=2, record_every=0.5)


def _message(cfg) -> str:
    with pytest.raises(DivergenceError) as err:
        ode.integrate(cfg)
    return str(err.value)


def _names(message: str, key: str) -> bool:
    """Does ``message`` tell the reader to change ``key`` (as a whole word: eta ≠ eta_in)?"""
    return re.search(rf"reduce {key}(?![\w])", message) is not None


# -- the mask -------------------------------------------------------------------------------

def test_diverged_flags_non_finite_and_blown_up_records():
    dist = metaloss.task_dist(Config())
    zero = float(metaloss.zero_predictor_error(dist))
    Q = np.broadcast_to(np.eye(2), (5, 2, 2)).copy()
    R, a = np.zeros((5, 2, 2)), np.zeros((5, 2))
    eg = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    Q[1, 0, 1] = np.nan
    R[2, 1, 1] = np.inf
    a[3, 0] = np.nan
    eg[4] = 1.01 * divergence.EG_BLOWUP * zero
    bad = np.asarray(divergence.diverged((Q, R, a), eg, dist))
    np.testing.assert_array_equal(bad, [False, True, True, True, True])
    eg[4] = 0.99 * divergence.EG_BLOWUP * zero
    assert not np.asarray(divergence.diverged((Q, R, a), eg, dist))[4]
    eg[0] = np.nan
    assert np.asarray(divergence.diverged((Q, R, a), eg, dist))[0]


# -- the causes, at a given state (no integration) ------------------------------------------

def test_explain_inner_loop():
    """C = I2(I) = I/3: η_in = 50 gives a stiffness 50/3 ≥ 2."""
    cfg = Config(eta_in=50.0)
    msg = divergence.explain(cfg, (np.eye(2), np.zeros((2, 2)), np.zeros(2)))
    assert "inner loop is unstable" in msg and _names(msg, "eta_in"), msg
    assert "= 16.7 ≥ 2" in msg and "2/λ_max(C) = 6" in msg       # 50/3 and 2/(1/3)


def test_explain_first_order_head():
    """Odd S, η_a > 0, stiffness 4.5/3 = 1.5 ∈ (1, 2): the first-order head update; with an
    even S or the full meta-gradient that cause does not apply."""
    state = (np.eye(2), np.zeros((2, 2)), np.zeros(2))
    fo = Config(eta_in=4.5, first_order=True, inner_steps=3)
    msg = divergence.explain(fo, state)
    assert "first-order head update is unstable" in msg and "eta_in" in msg \
        and "eta_head" in msg, msg
    for other in (fo.replace(inner_steps=2), fo.replace(first_order=False),
                  fo.replace(eta_head=0.0)):
        assert "first-order head" not in divergence.explain(other, state)


def test_explain_simulator_head_step_and_outer_rate():
    """Without dt (the simulator): a per-task head step (η_a/N) λ_max(C) > 1 blames eta_head;
    otherwise the outer rate (eta, query_batch), with a note on a finite support."""
    state = (np.eye(2), np.zeros((2, 2)), np.zeros(2))
    msg = divergence.explain(Config(N=50, eta_head=1e6), state)
    assert "head step is too large" in msg and _names(msg, "eta_head"), msg
    msg = divergence.explain(Config(N=50, eta=3.0), state)
    assert "outer learning rate is too large" in msg and _names(msg, "eta") \
        and "query_batch" in msg, msg
    assert "support P = 5" in divergence.explain(Config(N=50, support=5), state)


def test_explain_integration_step_names_head_or_body():
    """With dt (the ODE): dt times the fastest rate of the Jacobian beyond RK4's limit; the
    rate belongs to the head (∝ η_a) or to the body (∝ η)."""
    state = (0.5 * np.eye(2), 0.3 * np.ones((2, 2)), np.array([0.2, 0.1]))
    msg = divergence.explain(Config(eta_head=1e5), state, dt=0.05)
    assert "head relaxes too fast" in msg and _names(msg, "eta_head"), msg
    msg = divergence.explain(Config(eta=1e4, eta_head=0.0), state, dt=0.05)
    assert "body's fastest rate" in msg and _names(msg, "eta"), msg


# -- the review cases, integrated -----------------------------------------------------------

def test_large_inner_rate_diverges_naming_eta_in():
    msg = _message(Config(**SMALL, eta_in=50.0, init_scale=1.0, alpha_max=5.0))
    assert "inner loop is unstable" in msg and _names(msg, "eta_in"), msg


def test_many_inner_steps_diverge_naming_eta_in():
    """η_in = 10, S = 5: stiffness 10/3 ≈ 3.3, the adapted head amplified |1 − 3.3|⁵ ≈ 64-fold."""
    msg = _message(Config(**SMALL, eta_in=10.0, inner_steps=5, init_scale=1.0, alpha_max=5.0))
    assert "inner loop is unstable" in msg and "5 adaptation step" in msg \
        and _names(msg, "eta_in"), msg


def test_unstable_inner_loop_diverges_at_the_start():
    """η_in λ_max(C) ≈ 4 > 2 with S = 10 steps and a0 = (1, 1): the adapted head is amplified
    ~3¹⁰-fold, so the very first record has blown up."""
    cfg = Config(eta_in=12.0, inner_steps=10, init_scale=1.0, a0=(1.0, 1.0), alpha_max=5.0)
    with pytest.raises(DivergenceError, match=r"at α = 0: the inner loop is unstable.*eta_in"):
        ode.integrate(cfg)


def test_huge_head_rate_diverges_naming_eta_head():
    """η_a = 10⁶ makes the head relax at a rate ~10⁴, far beyond RK4 stability at dt = 0.05."""
    msg = _message(Config(**SMALL, eta_head=1e6, alpha_max=5.0))
    assert re.search(r"between α = 0 and α = 0.5: the head relaxes too fast", msg), msg
    assert _names(msg, "eta_head"), msg


def test_huge_outer_rate_diverges_naming_eta():
    msg = _message(Config(**SMALL, eta=1e300, alpha_max=5.0))
    assert _names(msg, "eta") and not _names(msg, "eta_head"), msg


def test_large_step_is_refused_naming_dt():
    """dt = 5 with records 10 apart (steps of 5): an inaccurate, not a diverging run."""
    with pytest.raises(AccuracyError) as err:
        ode.integrate(Config(**{**SMALL, "record_every": 10.0}, dt=5.0, alpha_max=20.0))
    msg = str(err.value)
    assert "not accurate" in msg and re.search(r"\bdt = 5\b", msg) and "reduce dt" in msg, msg


def test_first_order_head_diverges_naming_it():
    """FO-MAML, S = 1, η_in λ_max(C) = 1.46 ∈ (1, 2) with the body frozen (η = 0): the head's
    linear dynamics −η_a C (I − η_in C) a grow at rate ≈ 20·⅓·0.46 ≈ 3; the message quotes
    the stiffness of the last finite state (that of the frozen body)."""
    cfg = Config(**SMALL, first_order=True, eta=0.0, eta_in=4.5, eta_head=20.0,
                 init_scale=1.0, alpha_max=5.0)
    msg = _message(cfg)
    assert "first-order head update is unstable" in msg, msg
    stiff = float(observables.inner_stiffness(jnp.asarray(ode.initial_state(cfg)[0].Q),
                                              cfg.eta_in))
    assert 1.0 < stiff < 2.0 and f"= {stiff:.3g} > 1" in msg, (stiff, msg)


def test_first_order_head_instability_of_a_training_run():
    """FO-MAML, S = 1, η_in = 3.3 from the default initialisation (the former test of the
    first-order head): the full meta-gradient with the same rates trains without diverging up
    to α = 20 (its stiffness stays below 1.5), whereas in the first-order run the head grows
    once η_in λ_max(C) > 1, drags the body along (the stiffness passes 2 at α ≈ 10) and blows
    up at α ≈ 12. The cause is the head update — one inner step amplifies the adapted head
    only |1 − 3.4| ≈ 2.4-fold — at any integration step."""
    full = ode.integrate(Config(**SMALL, alpha_max=20.0, eta_in=3.3))
    assert np.all(np.isfinite(full.eg))
    for dt in (0.05, 0.01):
        msg = _message(Config(**SMALL, alpha_max=20.0, first_order=True, eta_in=3.3, dt=dt))
        assert "first-order head update is unstable" in msg, msg
