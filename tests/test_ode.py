"""The integration of the ODEs (metarep.ode): integrator accuracy and its check, records,
the batched entry point (initial states × hyper-parameters, masks, labels), the seeds'
initial states, sweeps, bad input. (The right-hand side: tests/test_drift.py; divergence
messages: tests/test_divergence.py.)"""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

from metarep import drift, metaloss, ode
from metarep.config import Config
from metarep.errors import AccuracyError, ConfigError, DivergenceError
from metarep.initial import initial_order_parameters, teacher_overlaps


def test_step_size_convergence():
    """RK4 is fourth order: halving dt shrinks the change of the eg curve 16-fold (we accept
    12–20), and halving dt = 0.05 changes the curve by less than 10⁻⁷ over α ∈ [0, 150]
    (fast initial transient, plateau, specialization at α ≈ 60–100). By Richardson's
    estimate the error of the default step dt = 0.01 is then below 10⁻⁷/16/5⁴ ≈ 10⁻¹¹."""
    cfg = Config(alpha_max=150.0, record_every=1.0)
    eg = {dt: ode.integrate(cfg.replace(dt=dt)).eg for dt in (0.1, 0.05, 0.025)}
    d1 = np.max(np.abs(eg[0.1] - eg[0.05]))
    d2 = np.max(np.abs(eg[0.05] - eg[0.025]))
    assert d2 < 1e-7
    assert 12 < d1 / d2 < 20, (d1, d2)


@pytest.mark.parametrize("record_every", [0.8, 1.0])
def test_accuracy_estimate_is_the_actual_error(record_every):
    """The error estimate of integrate_batch (relative to max(1, max |state|)) is the actual
    error of the run it checks within a factor of 2 — the actual error measured against the
    same run with dt/8 (whose own error is 8⁴ = 4096 times smaller). At dt = 0.2 a record
    spacing of 0.8 takes 4 steps per interval and 1.0 takes 5 (an odd number of steps)."""
    cfg = Config(alpha_max=32.0, record_every=record_every, dt=0.2)
    run = ode.integrate_batch(cfg)
    ref = ode.integrate_batch(cfg.replace(dt=0.025), accuracy="off")
    scale = max(1.0, max(np.abs(getattr(run, f)).max() for f in "QRa"))
    actual = max(np.abs(getattr(run, f) - getattr(ref, f)).max() for f in "QRa") / scale
    assert run.error.shape == (1,) and run.error[0] < ode.ACCURACY_TOLERANCE
    assert 0.5 * actual <= run.error[0] <= 2.0 * actual, (run.error[0], actual)
    off = ode.integrate_batch(cfg, accuracy="off")
    assert np.isnan(off.error).all()
    np.testing.assert_array_equal(off.eg, run.eg)


def test_records_and_initial_state():
    cfg = Config(K=3, M=2, alpha_max=20.0, record_every=2.0, eta_head=0.5)
    traj = ode.integrate(cfg)
    op = initial_order_parameters(cfg)
    np.testing.assert_array_equal(traj.alpha, cfg.record_alphas)
    np.testing.assert_allclose(traj.Q[0], op.Q, rtol=1e-15)
    np.testing.assert_allclose(traj.R[0], op.R, rtol=1e-15)
    assert traj.Q.shape == (11, 3, 3) and traj.R.shape == (11, 3, 2) and traj.a.shape == (11, 3)
    np.testing.assert_allclose(traj.Q, np.swapaxes(traj.Q, 1, 2), rtol=1e-12)
    hp = drift.hyper(cfg)
    assert traj.eg[5] == pytest.approx(float(metaloss.meta_test_error(
        traj.Q[5], traj.R[5], traj.a[5], hp.dist, cfg.eta_in, cfg.inner_steps)), rel=1e-14)
    assert set(traj.observables) == {"eg_noadapt", "eg_oracle", "specialization"}
    assert np.all(traj.observables["eg_oracle"] <= traj.eg + 1e-15)
    np.testing.assert_allclose(traj.observables["specialization"], traj.specialization(),
                               rtol=1e-12, atol=1e-15)
    # log-spaced records that do not start at 0 land on the same curve
    alphas = np.geomspace(0.5, 20.0, 7)
    logt = ode.integrate(cfg, alphas=alphas)
    np.testing.assert_array_equal(logt.alpha, alphas)
    np.testing.assert_allclose(logt.eg[-1], traj.eg[-1], rtol=1e-9)


def test_initial_state_is_the_simulators_start():
    for teacher in ("orthogonal", "gaussian"):
        cfg = Config(K=3, M=2, N=300, seed=4, teacher=teacher)
        state, T = ode.initial_state(cfg)
        op = initial_order_parameters(cfg)
        for got, want in zip((*state, T), op[:3] + (op.T,)):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(T, teacher_overlaps(cfg))


def test_time_grid_and_padding():
    grid, prepended = ode.time_grid([0.5, 1.0, 2.0])
    np.testing.assert_array_equal(grid, [0.0, 0.5, 1.0, 2.0])
    assert prepended
    grid, prepended = ode.time_grid([0.0, 1.0])
    np.testing.assert_array_equal(grid, [0.0, 1.0])
    assert not prepended
    padded = ode.padded_grid(np.arange(20.0))
    assert len(padded) == 32 and np.all(padded[19:] == 19.0)
    assert len(ode.padded_grid([0.0, 1.0])) == 16



def test_zero_predictor_error():
    dist = drift.hyper(Config(M=2, v_mean=(1.0, -0.5), v_std=0.7, label_noise=0.3,
                              teacher_spread=0.4)).dist
    E = 1.0 / 3.0  # I2 of a unit-variance field with itself; distinct teacher fields: 0
    expected = 0.5 * E * (1.0 + 0.25 + 2 * 0.49) + 0.5 * 0.09
    assert float(metaloss.zero_predictor_error(dist)) == pytest.approx(expected, rel=1e-14)


def test_bad_alphas():
    cfg = Config(alpha_max=5.0)
    for bad in ([], [2.0, 1.0], [-1.0, 1.0], [[1.0]], [np.nan]):
        with pytest.raises(ValueError, match="alphas"):
            ode.integrate(cfg, alphas=bad)


# -- the batched entry point ------------------------------------------------------------------

CFG = Config(N=200, eta_in=2.0, alpha_max=4.0, record_every=1.0, dt=0.05)


def test_integrate_seeds_matches_single_integrations():
    """The vmapped batch reproduces ode.integrate from each seed's start."""
    alphas = CFG.record_alphas
    batch = ode.integrate_seeds(CFG, [3, 5], alphas)
    assert batch.Q.shape == (2, len(alphas), 2, 2) and batch.T.shape == (2, 2, 2)
    np.testing.assert_array_equal(batch.seeds, [3, 5])
    for i, seed in enumerate([3, 5]):
        one = ode.integrate(CFG.replace(seed=seed), alphas)
        np.testing.assert_allclose(batch.Q[i], one.Q, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(batch.R[i], one.R, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(batch.eg[i], one.eg, rtol=1e-12)
        np.testing.assert_allclose(batch.observables["specialization"][i],
                                   one.observables["specialization"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(batch.Q[i, 0], initial_order_parameters(
            CFG.replace(seed=seed)).Q, rtol=1e-15)


def test_integrate_seeds_uses_each_seeds_teacher():
    """Gaussian teacher: seed s runs with its own T = B Bᵀ/N (the batch's T is per seed,
    (seeds, M, M)), exactly as ode.integrate of that seed."""
    cfg = CFG.replace(teacher="gaussian", N=50, alpha_max=2.0)
    batch = ode.integrate_seeds(cfg, [0, 1])
    assert batch.T.shape == (2, 2, 2)
    assert np.abs(batch.T[0] - batch.T[1]).max() > 1e-3
    for i, seed in enumerate([0, 1]):
        c = cfg.replace(seed=seed)
        np.testing.assert_allclose(batch.T[i], teacher_overlaps(c), rtol=1e-15)
        one = ode.integrate(c)
        np.testing.assert_allclose(one.T, batch.T[i], rtol=1e-15)
        np.testing.assert_allclose(batch.eg[i], one.eg, rtol=1e-12)
        np.testing.assert_allclose(batch.R[i], one.R, rtol=1e-12, atol=1e-14)


def test_integrate_batch_over_states_and_hypers():
    """B runs with their own initial states and hyper-parameters equal B single runs; the
    default (no states, no hypers) is the configuration's own run."""
    rates = [0.5, 1.5]
    s0, T = ode.initial_state(CFG)
    starts = ode.stack_states([s0, (s0.Q * 2.0, s0.R, s0.a)])
    hypers = ode.stack_hypers([drift.hyper(CFG.replace(eta=e), T) for e in rates])
    assert starts.Q.shape == (2, 2, 2) and hypers.eta.shape == (2,)
    assert hypers.dist.T.shape == (2, 2, 2)
    run = ode.integrate_batch(CFG, states=starts, hypers=hypers, workers=2, chunk=1)
    assert isinstance(run, ode.Batch) and run.eg.shape == (2, len(CFG.record_alphas))
    assert not run.diverged.any() and run.T.shape == (2, 2, 2)
    for i, (e, st) in enumerate(zip(rates, ([s0.Q, s0.R, s0.a], [s0.Q * 2.0, s0.R, s0.a]))):
        one = ode.integrate(CFG.replace(eta=e), state0=st)
        np.testing.assert_allclose(run.eg[i], one.eg, rtol=1e-12)
        np.testing.assert_allclose(run.Q[i], one.Q, rtol=1e-12, atol=1e-14)
    default = ode.integrate_batch(CFG)
    np.testing.assert_allclose(default.eg[0], ode.integrate(CFG).eg, rtol=1e-12)
    with pytest.raises(ValueError, match="different batch sizes"):
        ode.integrate_batch(CFG, states=starts, hypers=ode.stack_hypers([drift.hyper(CFG)] * 3))
    with pytest.raises(ValueError, match="on_divergence"):
        ode.integrate_batch(CFG, on_divergence="ignore")


def test_divergence_mask_and_labels():
    """One stable and one diverging run (η_a = 10⁶): "raise" names the diverging run by its
    label; "mask" keeps the stable run and sets the other's records NaN from the first
    diverged one on, flagging them."""
    cfg = CFG.replace(record_every=0.5, alpha_max=2.0)
    hypers = ode.stack_hypers([drift.hyper(cfg.replace(eta_head=h)) for h in (1.0, 1e6)])
    with pytest.raises(DivergenceError, match=r"\(fast head\) diverged between α = 0 and"):
        ode.integrate_batch(cfg, hypers=hypers, labels=["stable", "fast head"])
    run = ode.integrate_batch(cfg, hypers=hypers, on_divergence="mask")
    assert not run.diverged[0].any() and np.isfinite(run.eg[0]).all()
    assert not run.diverged[1, 0] and run.diverged[1, 1:].all()
    assert np.isnan(run.eg[1, 1:]).all() and np.isnan(run.Q[1, 1:]).all()
    assert np.isnan(run.error[1]) and np.isfinite(run.error[0])
    assert all(np.isnan(v[1, 1:]).all() for v in run.observables.values())
    np.testing.assert_allclose(run.eg[0], ode.integrate(cfg).eg, rtol=1e-12)


def test_inaccurate_integration_raises_warns_or_passes():
    cfg = Config(alpha_max=20.0, record_every=10.0, dt=5.0)
    with pytest.raises(AccuracyError, match=r"\(big step\) is not accurate.*\bdt = 5\b"
                                            r".*reduce dt"):
        ode.integrate_batch(cfg, labels=["big step"])
    with pytest.warns(UserWarning, match=r"\bdt = 5\b.*reduce dt"):
        run = ode.integrate_batch(cfg, accuracy="warn")
    assert run.error[0] > ode.ACCURACY_TOLERANCE
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ode.integrate_batch(cfg, accuracy="off")


# -- sweeps -----------------------------------------------------------------------------------

def test_sweep_equals_single_integrations_and_flags_divergence():
    from metarep import sweep

    cfg = Config(alpha_max=10.0, record_every=5.0, dt=0.05)
    res = sweep.sweep(cfg, {"eta": [0.5, 1.5], "eta_in": [0.0, 1.0], "eta_head": [1.0, 1e6]})
    assert res.names == ("eta", "eta_in", "eta_head")
    assert res.eg.shape == (2, 2, 2, 3) and res.Q.shape == (2, 2, 2, 3, 2, 2)
    np.testing.assert_array_equal(res.alpha, [0.0, 5.0, 10.0])
    for i, eta in enumerate([0.5, 1.5]):
        for j, eta_in in enumerate([0.0, 1.0]):
            single = ode.integrate(cfg.replace(eta=eta, eta_in=eta_in))
            np.testing.assert_allclose(res.eg[i, j, 0], single.eg, rtol=1e-12)
            np.testing.assert_allclose(res.R[i, j, 0], single.R, rtol=1e-12)
            np.testing.assert_allclose(res.observables["specialization"][i, j, 0],
                                       single.observables["specialization"], rtol=1e-12)
    assert not res.diverged[:, :, 0].any()
    # η_a = 10⁶ is unstable for RK4 at this dt: flagged from the first step on, values NaN
    assert res.diverged[:, :, 1, 1:].all() and np.isnan(res.eg[:, :, 1, 1:]).all()
    with pytest.raises(ConfigError, match="cannot sweep"):
        sweep.sweep(cfg, {"K": [1, 2]})


def test_grid_hypers_replaces_the_swept_keys():
    from metarep import sweep

    cfg = Config(eta=0.7, eta_in=0.3, v_mean=(1.0, 2.0))
    hp = sweep.grid_hypers(cfg, {"eta_in": np.array([0.1, 0.2, 0.4])})
    np.testing.assert_array_equal(hp.eta_in, [0.1, 0.2, 0.4])
    np.testing.assert_array_equal(hp.eta, [0.7] * 3)
    np.testing.assert_array_equal(hp.dist.v_bar, [[1.0, 2.0]] * 3)
    assert hp.dist.T.shape == (3, 2, 2)


def test_sweeps_of_several_grids_equal_separate_sweeps_and_carry_the_error():
    from metarep import sweep

    cfg = Config(alpha_max=4.0, record_every=2.0, dt=0.05)
    a, b = sweep.sweeps(cfg, [{"eta": [0.5, 1.5]}, {"eta_in": [0.3], "query_batch": [1, 10]}])
    alone = sweep.sweep(cfg, {"eta_in": [0.3], "query_batch": [1, 10]})
    assert a.eg.shape == (2, 3) and b.eg.shape == (1, 2, 3) and b.error.shape == (1, 2)
    np.testing.assert_allclose(b.eg, alone.eg, rtol=1e-12)
    np.testing.assert_allclose(a.eg[1], ode.integrate(cfg.replace(eta=1.5)).eg, rtol=1e-12)
    assert np.all(a.error < ode.ACCURACY_TOLERANCE)


# -- rates that vary with α -------------------------------------------------------------------

def _scheduled(cfg, values, knots=(0.0, 1.0, 2.0)):
    """Records of the ODE of cfg with η_in a Schedule through (knots, values)."""
    s0, T = ode.initial_state(cfg)
    hp = drift.hyper(cfg, T)._replace(eta_in=drift.Schedule(jnp.asarray(knots, dtype=float),
                                                            jnp.asarray(values, dtype=float)))
    state0 = drift.State(*(np.asarray(x) for x in s0))
    return ode.solve_and_observe(state0, hp, np.asarray(cfg.record_alphas), cfg.dt,
                                 cfg.inner_steps, cfg.first_order), hp


def test_a_schedule_is_evaluated_at_the_current_time():
    """A constant schedule reproduces the constant rate exactly; a schedule that changes only
    after α = 1 leaves the records up to α = 1 unchanged and changes the later ones; the
    recorded error adapts with the inner rate of its own time."""
    cfg = Config(eta_in=1.5, alpha_max=2.0, record_every=0.5, dt=0.05)
    (states, eg, _), _ = _scheduled(cfg, [1.5, 1.5, 1.5])
    np.testing.assert_array_equal(eg, ode.integrate(cfg).eg)
    (states2, eg2, _), hp2 = _scheduled(cfg, [1.5, 1.5, 0.5])
    early = np.asarray(cfg.record_alphas) <= 1.0
    np.testing.assert_array_equal(np.asarray(eg2)[early], np.asarray(eg)[early])
    assert np.all(np.abs(np.asarray(eg2)[~early] - np.asarray(eg)[~early]) > 1e-6)
    last = drift.State(*(np.asarray(x)[-1] for x in states2))
    rate = float(hp2.eta_in(cfg.alpha_max))
    assert rate == pytest.approx(0.5)
    np.testing.assert_allclose(
        eg2[-1], metaloss.meta_test_error(*last, hp2.dist, rate, cfg.inner_steps), rtol=1e-12)
    plain = drift.hyper(cfg)
    assert drift.at(plain, 3.0) is plain                             # no schedule: unchanged


def test_forward_derivative_with_respect_to_a_schedule():
    """jax.jvp through the integration along a change of the schedule's values equals central
    finite differences (step 1e-5: truncation ~1e-10)."""
    import jax

    cfg = Config(eta_in=1.0, alpha_max=2.0, record_every=1.0, dt=0.05)
    values = np.array([1.0, 1.5, 0.8])
    direction = np.array([0.3, -1.0, 0.5])

    def final(v):
        return _scheduled(cfg, v)[0][1][-1]

    _, tangent = jax.jvp(final, (values,), (direction,))
    h = 1e-5
    fd = (final(values + h * direction) - final(values - h * direction)) / (2 * h)
    np.testing.assert_allclose(tangent, fd, rtol=1e-6)
