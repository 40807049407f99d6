"""The microscopic simulator (metarep.simulator) against an independent NumPy step.

* Exact checks (same task, same numbers): one step of the simulator equals the NumPy reference
  step of ``benchmarks/numpy_reference.py``, whose meta-gradient is written out by hand
  (backpropagation through the ANIL inner loop, S = 1, 2, full and first order, population and
  finite support, teacher spread); the recorded order parameters of ``simulate`` (compiled
  loop with the factorised body W = Λ Y + H B) equal NumPy steps on the same tasks.
* Statistical checks (fixed seeds, |z| < 4 on differences of means with their standard errors):
  the exact law used for Ξ^τ's inner products against explicit Ξ^τ; the mean single-step
  increment against NumPy's own sampling; the "fields" Monte-Carlo meta-test error against
  the literal N-dimensional one; finite support P → ∞ against ``support = "inf"``; float32
  against float64.
* Determinism, record times, divergence errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metarep import simulator as sim
from metarep.config import Config
from metarep.errors import DivergenceError, Interrupted
from metarep.initial import initial_weights, teacher_overlaps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import numpy_reference as ref  # noqa: E402

Z_MAX = 4.0  # bound on |z| of a difference of independent means (two-sided p ≈ 6e-5)

BASE = dict(K=3, M=2, eta=0.9, eta_in=0.8, eta_head=0.7, label_noise=0.1, v_mean=(0.5, 1.0),
            v_std=0.5, query_batch=2)
VARIANTS = {  # S = 1, 2 × full, first order × population, finite support, teacher spread
    "inf-S1-full": dict(),
    "inf-S2-first": dict(inner_steps=2, first_order=True),
    "P5-S1-first": dict(support=5, first_order=True),
    "P5-S2-full": dict(support=5, inner_steps=2),
    "spread-inf-S2-full": dict(teacher_spread=0.4, inner_steps=2),      # Ξ^τ drawn explicitly
    "spread-inf-S1-first": dict(teacher_spread=0.4, first_order=True),  # Ξ^τ by its exact law
    "spread-P4-S2-full": dict(teacher_spread=0.4, support=4, inner_steps=2),
}
N_EXACT = 20  # N of the exact checks (the second-order MAML terms are O(1/√N) of ΔW)


def _config(name: str, **extra) -> Config:
    return Config(**{**BASE, **VARIANTS[name], **extra})


def _numpy_task(task: sim.Task, B) -> dict:
    t = {k: (None if v is None else np.asarray(v, dtype=float)) for k, v in task._asdict().items()}
    if t["Bt"] is None:  # Ξ^τ not drawn: the step must not need B^τ (its gradient has no F B^τ)
        t["Bt"] = np.full_like(B, np.nan)
    return t


@pytest.mark.parametrize("name", VARIANTS)
def test_single_step_equals_numpy_reference(name):
    """ΔW and Δa of one step on the same task agree with the hand-written gradients to
    rounding (relative 1e-12); the second-order MAML terms are ≈ 1/√N ≈ 20% of ΔW here, so
    they are checked too."""
    cfg = _config(name, N=N_EXACT, init_scale=1.0, a0=(0.3, -0.2, 0.5))
    B, W, a = initial_weights(cfg)
    task = sim.sample_task(cfg, W, B, jax.random.PRNGKey(3))
    dW, da = (np.asarray(x) for x in sim.task_increment(cfg, W, a, task))
    rW, ra = ref.increment(W, a, _numpy_task(task, B), cfg)
    assert np.all(np.isfinite(rW))
    np.testing.assert_allclose(dW, rW, rtol=0, atol=1e-12 * np.abs(rW).max())
    np.testing.assert_allclose(da, ra, rtol=0, atol=1e-12 * np.abs(ra).max())


@pytest.mark.parametrize("eta_head", [0.7, 0.0])
def test_fast_first_order_numpy_loop_equals_reference(eta_head):
    """The hoisted first-order NumPy loop the whole-process benchmark times
    (benchmarks/numpy_reference.run_first_order, population inner loop, σ_B = 0; with
    eta_head = 0 the head initialisation stays fixed) equals the reference loop step for step
    on the same random numbers, and so the simulator's step (above)."""
    cfg = _config("inf-S2-first", N=N_EXACT, init_scale=1.0, a0=(0.3, -0.2, 0.5),
                  eta_head=eta_head)
    B, W, a = initial_weights(cfg)
    W1, a1 = ref.run(cfg, B, W, a, 50, seed=5)
    W2, a2, records = ref.run_first_order(cfg, B, W, a, 50, seed=5, every=25)
    np.testing.assert_allclose(W2, W1, rtol=0, atol=1e-12 * np.abs(W1).max())
    np.testing.assert_allclose(a2, a1, rtol=0, atol=1e-12 * max(np.abs(a1).max(), 1e-300))
    assert [r[0] for r in records] == [0, 25, 50]
    np.testing.assert_allclose(records[-1][1], W1 @ W1.T / cfg.N, rtol=1e-12)
    if eta_head == 0:
        np.testing.assert_array_equal(a2, a)


def test_meta_step_applies_the_increment():
    cfg = _config("spread-inf-S2-full", N=N_EXACT, init_scale=1.0, a0=(0.3, -0.2, 0.5))
    B, W, a = initial_weights(cfg)
    key = jax.random.PRNGKey(4)
    dW, da = sim.task_increment(cfg, W, a, sim.sample_task(cfg, W, B, key))
    W1, a1 = sim.meta_step(W, a, B, key, cfg)
    np.testing.assert_allclose(W1, W + dW, rtol=0, atol=1e-14)
    np.testing.assert_allclose(a1, a + da, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", ["inf-S1-full", "spread-inf-S2-full", "spread-inf-S1-first",
                                  "spread-P4-S2-full"])
def test_recorded_order_parameters_equal_numpy_steps(name):
    """simulate's records (compiled loop, factorised W, Q and R updated in closed form, chunks
    of N steps) equal NumPy steps on the tasks that training step t draws (key
    step_key(cfg, train, t)), to relative 1e-10, over 2.5 N steps."""
    cfg = _config(name, N=N_EXACT, alpha_max=2.5, record_every=0.5, init_scale=0.5)
    traj = sim.simulate(cfg, seeds=[cfg.seed], progress=False, eg_tasks=0)
    assert np.all(np.isnan(traj.eg))
    B, W, a = initial_weights(cfg)
    train, _ = sim.run_keys(cfg.seed)
    steps = np.rint(traj.alpha * cfg.N).astype(int)
    for t in range(steps[-1] + 1):
        if t in steps:
            i = list(steps).index(t)
            for got, want in ((traj.Q[0, i], W @ W.T / cfg.N), (traj.R[0, i], W @ B.T / cfg.N),
                              (traj.a[0, i], a)):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max())
        task = sim.sample_task(cfg, W, B, sim.step_key(cfg, train, t))
        dW, da = ref.increment(W, a, _numpy_task(task, B), cfg)
        W, a = W + dW, a + da


RUN = dict(N=60, alpha_max=2.0, record_every=1.0)  # shared by tests that compile a run
RUN_MC = dict(progress=False, eg_tasks=1000, eg_test=10)


def test_determinism_and_seeds():
    """Same seed, same numbers; different seeds differ; a seed's run does not depend on the
    other seeds vmapped with it nor on the record times (to rounding)."""
    cfg = _config("spread-inf-S1-first", **RUN)
    a = sim.simulate(cfg, seeds=2, **RUN_MC)
    b = sim.simulate(cfg, seeds=[0, 1], **RUN_MC)
    for f in ("Q", "R", "a", "eg"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert np.abs(a.Q[0, -1] - a.Q[1, -1]).max() > 1e-3
    assert list(a.seeds) == [0, 1] and a.observables["eg_sem"].shape == a.eg.shape
    swapped = sim.simulate(cfg, seeds=[1, 0], **RUN_MC)
    np.testing.assert_allclose(swapped.Q[::-1], a.Q, rtol=1e-12, atol=0)
    finer = sim.simulate(cfg, seeds=2, alphas=[0.0, 0.3, 1.0, 1.7, 2.0], **RUN_MC)
    np.testing.assert_allclose(finer.Q[:, [0, 2, 4]], a.Q, rtol=1e-12, atol=0)
    np.testing.assert_allclose(finer.R[:, [0, 2, 4]], a.R, rtol=1e-12, atol=1e-14)


def test_ctrl_c_keeps_the_completed_records(monkeypatch):
    """A KeyboardInterrupt during the training steps raises Interrupted (a KeyboardInterrupt)
    carrying the records completed so far, equal to those of the uninterrupted run."""
    cfg = _config("spread-inf-S1-first", **RUN)
    full = sim.simulate(cfg, seeds=2, **RUN_MC)
    real, calls = sim.advance, []

    def advance(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sim, "advance", advance)
    with pytest.raises(Interrupted) as stop:
        sim.simulate(cfg, seeds=2, **RUN_MC)
    part = stop.value.partial
    assert isinstance(stop.value, KeyboardInterrupt) and stop.value.planned == 3
    np.testing.assert_array_equal(part.alpha, full.alpha[:2])
    for f in ("Q", "R", "a", "eg"):
        np.testing.assert_array_equal(getattr(part, f), getattr(full, f)[:, :2])
    assert part.config == cfg and list(part.seeds) == [0, 1]


def test_record_steps_snap_to_whole_steps():
    cfg = Config(N=100, alpha_max=10.0, record_every=1.0)
    steps = sim.record_steps(cfg, np.geomspace(1e-3, 10, 30))
    assert steps[0] == 0 and steps[-1] == 1000
    assert np.all(np.diff(steps) > 0)  # snapped and without repeats
    np.testing.assert_array_equal(sim.record_steps(cfg), np.arange(11) * 100)
    with pytest.raises(ValueError):
        sim.record_steps(cfg, [-1.0])


def _moments(samples):
    """Means of the features f and of their products f_i f_j, with standard errors."""
    f = samples.reshape(samples.shape[0], -1)
    prods = (f[:, :, None] * f[:, None, :]).reshape(f.shape[0], -1)
    feats = np.concatenate([f, prods], axis=1)
    return feats.mean(0), feats.std(0, ddof=1) / np.sqrt(f.shape[0])


@pytest.mark.slow
def test_xi_overlaps_exact_law():
    """(V Ξᵀ/N, Ξ Ξᵀ/N) drawn from the Gram matrix alone has the first and second moments of
    the explicit construction, also for a rank-deficient V (a repeated row)."""
    N, M, n = 12, 2, 40000
    rng = np.random.default_rng(0)
    V = rng.standard_normal((3, N))
    V = np.concatenate([V, V[:1] * 0.5 + V[1:2]])          # rank 3 < r = 4
    G = jnp.asarray(V @ V.T / N)
    keys = jax.random.split(jax.random.PRNGKey(1), n)
    VX, XX = jax.vmap(lambda k: sim.xi_overlaps(k, G, N, M))(keys)
    law = np.concatenate([np.asarray(VX).reshape(n, -1), np.asarray(XX).reshape(n, -1)], 1)
    Xi = rng.standard_normal((n, M, N))
    explicit = np.concatenate([(np.einsum("rN,sMN->srM", V, Xi) / N).reshape(n, -1),
                               (np.einsum("smN,slN->sml", Xi, Xi) / N).reshape(n, -1)], 1)
    (m1, s1), (m2, s2) = _moments(law), _moments(explicit)
    z = (m1 - m2) / np.sqrt(s1**2 + s2**2)
    assert np.abs(z).max() < Z_MAX, np.abs(z).max()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["spread-inf-S1-first", "spread-P4-S2-full"])
def test_mean_increment_matches_numpy_sampling(name):
    """The simulator's mean N·ΔQ, N·ΔR, N·Δa over fresh tasks (Ξ^τ by its exact law) agrees
    with NumPy's literal sampling (explicit Ξ^τ) at N = 100, entry by entry."""
    cfg = _config(name, N=100, init_scale=1.0, a0=(0.3, -0.2, 0.5), eta_head=2.0)
    B, W, a = initial_weights(cfg)
    inc = sim.step_increments(cfg, W, B, a, jax.random.PRNGKey(5), 10000)
    assert inc["Q"].shape == (10000, 3, 3) and inc["R"].shape == (10000, 3, 2)
    rng = np.random.default_rng(6)
    rows = []
    for _ in range(4000):
        dW, da = ref.increment(W, a, ref.sample_task(rng, W, B, cfg), cfg)
        rows.append((W @ dW.T + dW @ W.T + dW @ dW.T, dW @ B.T, cfg.N * da))
    for i, key in enumerate(("Q", "R", "a")):
        x = inc[key].reshape(len(inc[key]), -1)
        y = np.stack([r[i] for r in rows]).reshape(len(rows), -1)
        z = (x.mean(0) - y.mean(0)) / np.sqrt(x.var(0, ddof=1) / len(x)
                                              + y.var(0, ddof=1) / len(y))
        assert np.abs(z).max() < Z_MAX, (key, z)


def _trained_state(cfg):
    B, W, a = initial_weights(cfg.replace(init_scale=1.0, a0=(0.4, 0.1, -0.3)))
    return B, W, a


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inf-S2-first", "spread-P4-S2-full"])
def test_fields_monte_carlo_matches_inputs(name):
    """The meta-test error from fields drawn in their exact law equals the literal estimate
    with inputs in ℝᴺ (N = 60) within the standard errors."""
    cfg = _config(name, N=60)
    B, W, a = _trained_state(cfg)
    m1, s1 = sim.meta_test_error_mc(cfg, W, B, a, jax.random.PRNGKey(0), 4000, 20)
    m2, s2 = sim.meta_test_error_mc(cfg, W, B, a, jax.random.PRNGKey(1), 1500, 20,
                                    method="inputs")
    assert abs(m1 - m2) / np.hypot(s1, s2) < Z_MAX


@pytest.mark.parametrize("variant", [
    dict(first_order=True, label_noise=0.1),                       # K = 3, M = 2, S = 1
    dict(inner_steps=2, teacher="gaussian", eta_head=2.0),         # measured T ≠ I, S = 2
])
def test_closed_form_meta_test_error_agrees_with_monte_carlo(variant):
    """With the population inner loop and σ_B = 0 the recorded meta-test error in closed form
    (metaloss.meta_test_error of the measured Q, R, T, a) is the estimand of the independent
    Monte-Carlo estimate at any N: they agree within the Monte-Carlo standard error at every
    record of two seeds (|z| < Z_MAX, 2 × 5 records), a standard error below 1.5 % of the
    error (so a bias of 6 % would fail), and the closed form's standard error is 0."""
    cfg = Config(**{**BASE, "N": 60, "alpha_max": 4.0, "record_every": 1.0, **variant})
    # 4096 tasks: four whole batches of the estimator (no remainder batch: one program)
    mc = sim.simulate(cfg, seeds=2, progress=False, eg_tasks=4096, eg_test=20)
    cf = sim.simulate(cfg, seeds=2, progress=False, eg_method="closed_form")
    np.testing.assert_array_equal(cf.Q, mc.Q)      # the same runs
    sem = mc.observables["eg_sem"]
    z = (mc.eg - cf.eg) / sem
    assert np.abs(z).max() < Z_MAX, z
    assert np.all(sem < 0.015 * cf.eg)
    assert np.all(cf.observables["eg_sem"] == 0)


def test_closed_form_needs_population_loop_without_spread():
    from metarep.errors import ConfigError

    for bad in (dict(support=5), dict(teacher_spread=0.3)):
        with pytest.raises(ConfigError, match="closed-form meta-test error needs"):
            sim.simulate(_config("inf-S1-full", **RUN, **bad), progress=False,
                         eg_method="closed_form")
    with pytest.raises(ValueError, match="eg_method"):
        sim.simulate(_config("inf-S1-full", **RUN), progress=False, eg_method="exact")


@pytest.mark.slow
def test_large_support_approaches_population():
    """support = P → "inf": the meta-test error after adaptation on P = 500 support samples
    agrees with the population inner loop within the standard errors (the O(1/P) bias is below
    them), while P = 2 is clearly different (the comparison has power)."""
    cfg = _config("inf-S2-first", N=1000, eta_in=1.0)
    B, W, a = _trained_state(cfg)
    key = jax.random.PRNGKey(2)
    m_inf, s_inf = sim.meta_test_error_mc(cfg, W, B, a, key, 3000, 20)
    m_big, s_big = sim.meta_test_error_mc(cfg.replace(support=500), W, B, a, key, 3000, 20)
    m_two, s_two = sim.meta_test_error_mc(cfg.replace(support=2), W, B, a, key, 3000, 20)
    assert abs(m_big - m_inf) / np.hypot(s_big, s_inf) < Z_MAX
    assert abs(m_two - m_inf) / np.hypot(s_two, s_inf) > 2 * Z_MAX


@pytest.mark.slow
def test_large_support_drift_approaches_population():
    """The mean single-step increment with P = 200 agrees with support = "inf" (N = 40): the
    O(1/P) bias is below the statistical resolution of 4000 steps."""
    cfg = _config("inf-S1-full", N=40, init_scale=1.0, a0=(0.3, -0.2, 0.5), eta_head=2.0)
    B, W, a = initial_weights(cfg)
    inf = sim.step_increments(cfg, W, B, a, jax.random.PRNGKey(7), 10000)
    big = sim.step_increments(cfg.replace(support=200), W, B, a, jax.random.PRNGKey(8), 4000)
    for key in ("Q", "R", "a"):
        x, y = inf[key].reshape(len(inf[key]), -1), big[key].reshape(len(big[key]), -1)
        z = (x.mean(0) - y.mean(0)) / np.sqrt(x.var(0, ddof=1) / len(x)
                                              + y.var(0, ddof=1) / len(y))
        assert np.abs(z).max() < Z_MAX, (key, z)


def test_float32_path():
    """dtype = float32 runs end to end; its start equals the float64 one to float32 rounding
    and its Monte-Carlo meta-test error agrees within the standard errors."""
    cfg = _config("spread-inf-S1-first", **RUN)
    t32 = sim.simulate(cfg.replace(dtype="float32"), seeds=2, **RUN_MC)
    t64 = sim.simulate(cfg, seeds=2, **RUN_MC)
    assert all(np.all(np.isfinite(x)) for x in (t32.Q, t32.R, t32.a, t32.eg))
    np.testing.assert_allclose(t32.Q[:, 0], t64.Q[:, 0], rtol=1e-6)
    z = (t32.eg[:, 0] - t64.eg[:, 0]) / np.hypot(t32.observables["eg_sem"][:, 0],
                                                 t64.observables["eg_sem"][:, 0])
    assert np.abs(z).max() < Z_MAX
    B, W, a = initial_weights(cfg)
    W1, a1 = sim.meta_step(W, a, B, jax.random.PRNGKey(0), cfg.replace(dtype="float32"))
    assert W1.dtype == jnp.float32 and a1.dtype == jnp.float32


def test_divergence_names_the_cause():
    """A run that blows up raises DivergenceError with α and the likely cause measured at the
    last finite state (metarep.divergence.explain): an unstable inner loop
    (η_in λ_max(C) ≥ 2) blames eta_in; a per-task head step (η_a/N) λ_max(C) > 1 blames
    eta_head (formerly "the outer learning rate is too large" for both rates)."""
    cfg = _config("inf-S1-full", N=50, inner_steps=5, alpha_max=5.0, init_scale=1.0)
    with pytest.raises(DivergenceError, match=r"α ≈ .*inner loop is unstable: eta_in·λ_max\(C\)"
                                              r".*reduce eta_in below 2/λ_max\(C\)"):
        sim.simulate(cfg.replace(eta_in=20.0), progress=False, eg_tasks=0)
    with pytest.raises(DivergenceError, match=r"α ≈ .*per-task head step is too large.*"
                                              r"reduce eta_head"):
        sim.simulate(cfg.replace(eta_in=0.1, eta_head=1e6), progress=False, eg_tasks=0)


def test_simulate_sizes_and_per_seed_teachers():
    """simulate_sizes runs each N (seeds vmapped); with a Gaussian teacher every seed's
    Trajectory records its own T = B Bᵀ/N, shape (seeds, M, M), and its cosines use it."""
    cfg = Config(K=2, M=2, N=20, alpha_max=0.5, record_every=0.25, teacher="gaussian")
    sims = sim.simulate_sizes(cfg, [20, 30], seeds=[0, 1], eg_tasks=0)
    assert sorted(sims) == [20, 30]
    for N, run in sims.items():
        assert run.config.N == N and run.seeds.tolist() == [0, 1] and run.eg.shape == (2, 3)
        assert run.T.shape == (2, 2, 2)
        for i, s in enumerate((0, 1)):
            B, W, _ = initial_weights(cfg.replace(N=N, seed=s))
            np.testing.assert_allclose(run.T[i], B @ B.T / N, rtol=1e-12)
            np.testing.assert_allclose(run.T[i], teacher_overlaps(cfg.replace(N=N, seed=s)),
                                       rtol=1e-10)
            np.testing.assert_allclose(run.R[i, 0], W @ B.T / N, rtol=1e-10, atol=1e-14)
        cos = run.cosines()[1, 0]
        np.testing.assert_allclose(cos, run.R[1, 0] / np.sqrt(
            np.outer(np.diag(run.Q[1, 0]), np.diag(run.T[1]))), rtol=1e-12)
