"""metarep.support and integrals.g4: the theory with a finite support set (few-shot).

* **G4** (``eq-g4``): against the orthant identity G4 = 16Φ₄(0; ρ) − 1 − (2/π)Σ arcsin ρ_ij
  with SciPy's quadrivariate normal probability (an independent algorithm), against a
  factorised case (exact), against Monte Carlo, and its quadrature against 400 nodes.
* **F_P at a fixed state** (``eq-fs-expansion``): against a direct Monte Carlo of the
  adapted error in field space (S = 1, 2, 3) and against the simulator's microscopic
  Monte Carlo with N-dimensional inputs (``meta_test_error_mc(method="inputs")``, exact in
  law at any N); for S = 1 the expansion is exact (``eq-fs-s1``): the field-space remainder
  vanishes and a plain average over 2¹⁴ support sets agrees with it.
* **P → ∞**: F_P − F_∞ is exactly ∝ 1/P for S = 1 and the drift tends to the population
  drift.
* **Drift test** at finite P against single steps of the simulator (full and first order,
  S ∈ {1, 2}, query batch 1 and 2), under the statistics policy (two sizes, Holm, family-wise
  false-alarm rate 10⁻³ per case), and its power: the population theory is rejected.
* **Trajectories** of the ODE against the seed-averaged simulation at N = 2000 and 4000.

Every statistical check states its false-alarm rate; Monte-Carlo z-tests use |z| < 4.5
(two-sided rate 7·10⁻⁶ each).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from metarep import drift, integrals, metaloss, ode, simulator, support
from metarep.activation import g
from metarep.analysis import size_agreement
from metarep.cli import main
from metarep.config import Config
from metarep.initial import initial_weights, overlaps
from metarep.linear import coordinate_names

from helpers import drift_theory, drift_two_sizes

Z = 4.5
FALSE_ALARM = 1e-3
Q = jnp.array([[1.2, 0.3], [0.3, 0.9]])
R = jnp.array([[0.5, 0.2], [0.1, 0.6]])
A = jnp.array([0.4, -0.2])
CFG = Config(K=2, M=2, eta=1.0, eta_in=0.5, v_mean=(0.8, -0.4), v_std=0.5, label_noise=0.1,
             teacher_spread=0.2, inner_steps=1, support=4)
DIST = metaloss.task_dist(CFG)


def _covariances(rng):
    F = rng.normal(size=(4, 6))
    return F @ F.T / 3.0


# -- G4 -------------------------------------------------------------------------------------

def _orthant(C):
    S = C + np.eye(4)
    sd = np.sqrt(np.diag(S))
    rho = S / np.outer(sd, sd)
    phi4 = stats.multivariate_normal(np.zeros(4), rho, abseps=1e-9, releps=0,
                                     maxpts=10**7).cdf(np.zeros(4))
    return 16.0 * phi4 - 1.0 - 2.0 / np.pi * np.sum(np.arcsin(rho[np.triu_indices(4, 1)]))


def test_g4_matches_the_orthant_identity():
    rng = np.random.default_rng(0)
    cases = [_covariances(rng) for _ in range(4)]
    rep = _covariances(rng)
    rep[1], rep[:, 1] = rep[0], rep[:, 0]
    rep[1, 1] = rep[0, 0]                                   # a field repeated: u₁ = u₂
    for C in [*cases, rep]:
        assert float(integrals.g4(jnp.asarray(C))) == pytest.approx(_orthant(C), abs=1e-7)


def test_g4_factorises_for_independent_pairs():
    C = np.diag([1.0, 2.0, 3.0, 0.5])
    C[0, 1] = C[1, 0] = 0.5
    C[2, 3] = C[3, 2] = 0.7
    want = float(integrals.i2(1.0, 0.5, 2.0) * integrals.i2(3.0, 0.7, 0.5))
    assert float(integrals.g4(jnp.asarray(C))) == pytest.approx(want, rel=1e-13)


def test_g4_matches_monte_carlo():
    C = _covariances(np.random.default_rng(3))
    u = np.random.default_rng(4).multivariate_normal(np.zeros(4), C, size=2_000_000)
    prod = np.prod(np.asarray(g(u)), axis=1)
    z = (prod.mean() - float(integrals.g4(jnp.asarray(C)))) / (prod.std() / math.sqrt(len(u)))
    assert abs(z) < Z, z


def test_g4_quadrature_accuracy():
    """20 Gauss–Legendre nodes against 400: within 5e-15 for field variances up to 5 and
    within 5e-10 up to 20 (the bounds of integrals.G4_NODES' comment), on covariances mixing
    a random one with a nearly rank-one part (strong correlations)."""
    t, w = np.polynomial.legendre.leggauss(400)
    rng = np.random.default_rng(5)
    for scale, tol in ((5.0, 5e-15), (20.0, 5e-10)):
        for _ in range(20):
            u, B, mix = rng.normal(size=4), rng.normal(size=(4, 4)), rng.uniform()
            C = (1 - mix) * B @ B.T / np.mean(np.diag(B @ B.T)) + mix * np.outer(u, u)
            C *= scale / np.max(np.diag(C))                  # largest variance = scale
            got = float(integrals.g4(jnp.asarray(C)))
            saved = integrals._GL_T, integrals._GL_W
            integrals._GL_T, integrals._GL_W = 0.5 * (t + 1.0), 0.5 * w
            try:
                ref = float(integrals.g4(jnp.asarray(C)))
            finally:
                integrals._GL_T, integrals._GL_W = saved
            assert abs(got - ref) < tol, (scale, got - ref)


def test_four_point_tensor_is_g4_of_each_index_set():
    O = metaloss.field_covariance(Q, R, DIST)
    T = np.asarray(support.four_point(O, 2))
    idx = (1, 3, 0, 2)
    C = np.asarray(O)[np.ix_(idx, idx)]
    assert T[1, 3, 0, 2] == pytest.approx(float(integrals.g4(jnp.asarray(C))), rel=1e-13)
    np.testing.assert_allclose(T, np.transpose(T, (2, 1, 0, 3)), rtol=1e-14)
    np.testing.assert_allclose(T, np.transpose(T, (0, 3, 2, 1)), rtol=1e-14)


# -- F_P at a fixed state ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def field_mc():
    """Direct Monte Carlo of the error after S = 1, 2, 3 steps on P = 4 support samples:
    fields, readouts and labels drawn in their law, the empirical inner loop run literally,
    the population error of the adapted head (4·10⁶ tasks)."""
    P, n = CFG.P, 400_000
    O = metaloss.field_covariance(Q, R, DIST)
    L = jnp.linalg.cholesky(O)
    b = metaloss.blocks(Q, R, DIST)

    @jax.jit
    def chunk(key):
        k1, k2, k3 = jax.random.split(key, 3)
        h = jax.random.normal(k1, (n, P, 4)) @ L.T
        v = DIST.v_bar + DIST.v_std * jax.random.normal(k2, (n, 2))
        y = jnp.einsum("npm,nm->np", g(h[..., 2:]), v) + DIST.noise * jax.random.normal(
            k3, (n, P))
        Phi, ap, out = g(h[..., :2]), jnp.broadcast_to(A, (n, 2)), []
        for _ in range(3):
            ap = ap - CFG.eta_in * jnp.einsum("npk,np->nk", Phi,
                                              jnp.einsum("npk,nk->np", Phi, ap) - y) / P
            out.append(0.5 * (jnp.einsum("nk,kl,nl->n", ap, b.C, ap)
                              - 2 * jnp.einsum("nk,km,nm->n", ap, b.D, v)
                              + jnp.einsum("nm,mk,nk->n", v, b.E, v)) + 0.5 * DIST.noise**2)
        return jnp.stack(out)

    e = np.concatenate([np.asarray(chunk(jax.random.PRNGKey(i))) for i in range(10)], axis=1)
    return e.mean(axis=1), e.std(axis=1) / math.sqrt(e.shape[1])


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_error_matches_field_space_monte_carlo(field_mc, steps):
    mean, sem = field_mc
    dr = support.draws(CFG.P, 2, 2, 4096)
    F = float(support.meta_test_error(Q, R, A, DIST, CFG.eta_in, steps, dr))
    z = (mean[steps - 1] - F) / sem[steps - 1]
    assert abs(z) < Z, (steps, F, mean[steps - 1], z)
    F_inf = float(metaloss.meta_test_error(Q, R, A, DIST, CFG.eta_in, steps))
    assert abs(F - F_inf) > 20 * sem[steps - 1]           # the effect is resolved


def test_one_step_expansion_is_exact():
    """For S = 1 the error is quadratic in X̂: the remainder of eq-fs-expansion vanishes at
    every sample, and a plain average of f over 2¹⁴ support sets agrees with the closed form."""
    P = 4
    lw = support.law(Q, R, DIST)
    b = metaloss.blocks(Q, R, DIST)
    Og = jnp.block([[b.C, b.D], [b.D.T, b.E]])

    def f(X):
        mu, S = support.head_moments(X, A, DIST, CFG.eta_in, 1, P)
        return 0.5 * (mu @ Og @ mu + jnp.sum(Og * S)) + 0.5 * DIST.noise**2

    X = support.empirical(lw, support.draws(P, 2, 2, 1 << 14, seed=7))[0]
    exact = float(support.expectation(f, lw, P))
    with_remainder = float(support.expectation(f, lw, P, X))
    assert with_remainder == pytest.approx(exact, abs=1e-14)
    vals = np.asarray(jax.vmap(f)(X))
    assert abs(vals.mean() - exact) < Z * vals.std() / math.sqrt(len(vals))
    assert exact == pytest.approx(float(support.meta_test_error(
        Q, R, A, DIST, CFG.eta_in, 1, support.draws(P, 2, 2))), rel=1e-14)


@pytest.mark.parametrize("steps", [1, 2])
def test_error_matches_microscopic_monte_carlo(steps):
    """The simulator's meta-test error with N-dimensional inputs, B^τ and the literal inner
    loop on P = 3 support samples (no theory formula) at N = 60 agrees with F_P of the
    microscopic state's overlaps (exact in law at any N)."""
    cfg = CFG.replace(N=60, support=3, inner_steps=steps, seed=2)
    B, W, a = initial_weights(cfg)
    Qm, Rm, T = overlaps(W, B)
    dist = metaloss.task_dist(cfg, T)
    F = float(support.meta_test_error(jnp.asarray(Qm), jnp.asarray(Rm), jnp.asarray(a), dist,
                                      cfg.eta_in, steps, support.draws(3, 2, 2, 4096)))
    mean, sem = simulator.meta_test_error_mc(cfg, W, B, a, jax.random.PRNGKey(9),
                                             n_tasks=100_000, n_test=4, method="inputs")
    assert abs(mean - F) < Z * sem, (F, mean, sem)


def test_large_support_recovers_the_populationdrift_theory():
    F_inf = float(metaloss.meta_test_error(Q, R, A, DIST, CFG.eta_in, 1))
    excess = [P * (float(support.meta_test_error(Q, R, A, DIST, CFG.eta_in, 1,
                                                 support.draws(P, 2, 2, 2))) - F_inf)
              for P in (2, 30, 1000)]
    np.testing.assert_allclose(excess, excess[0], rtol=1e-9)       # exactly ∝ 1/P for S = 1
    for steps in (1, 2):            # the drift's distance from the population drift ∝ 1/P
        state = drift.State(Q, R, A)
        pop = drift.vector_field(state, drift.hyper(CFG.replace(support="inf")), steps, False)
        dist = {}
        for P in (100, 4000):
            fs = drift.vector_field(state, drift.hyper(CFG.replace(support=P), samples=8),
                                    steps, False)
            dist[P] = max(float(jnp.max(jnp.abs(x - y))) for x, y in zip(fs, pop))
        assert 4000 * dist[4000] == pytest.approx(100 * dist[100], rel=0.1), (steps, dist)


# -- the drift against the simulator ---------------------------------------------------------

BASE = dict(K=2, M=2, N=1000, eta=1.0, eta_in=0.5, eta_head=0.8, v_mean=(1.0, -0.5),
            v_std=0.5, label_noise=0.1, seed=3, Q0=((1.0, 0.2), (0.2, 0.8)),
            R0=((0.6, 0.1), (0.2, 0.5)), a0=(0.5, -0.3))


@pytest.mark.slow
@pytest.mark.parametrize("first_order, steps, batch, P",
                         [(False, 1, 1, 3), (True, 1, 1, 3), (False, 2, 2, 4), (True, 2, 1, 4)])
def test_drift_matches_simulator_at_finite_support(first_order, steps, batch, P):
    cfg = Config(**BASE, first_order=first_order, inner_steps=steps, query_batch=batch,
                 support=P)
    ag = size_agreement(drift_two_sizes(cfg, 21), drift_theory(cfg), FALSE_ALARM)
    names = coordinate_names(cfg.K, cfg.M)
    assert ag.ok, {n: (round(float(t), 2), float(p)) for n, t, p in zip(names, ag.t, ag.p)}


@pytest.mark.slow
def test_drift_test_rejects_the_populationdrift_theory():
    """Power: single steps with P = 2 support samples against the population theory (the
    worst entry was about 10 times Holm's threshold when this test was written)."""
    cfg = Config(**BASE, support=2, inner_steps=2)
    ag = size_agreement(drift_two_sizes(cfg, 22), drift_theory(cfg.replace(support="inf")),
                        FALSE_ALARM)
    assert not ag.ok, ag.t


# -- trajectories ------------------------------------------------------------------------------

TRAJ = Config(K=2, M=2, N=2000, eta=1.0, eta_in=0.5, eta_head=1.0, inner_steps=1, support=3,
              v_mean=1.0, v_std=0.5, label_noise=0.1, alpha_max=4.0, record_every=1.0,
              Q0=((1.0, 0.2), (0.2, 0.8)), R0=((0.6, 0.1), (0.2, 0.5)), a0=(0.5, -0.3))
SEEDS = 8


@pytest.fixture(scope="module")
def trajectories():
    sims = {N: simulator.simulate(TRAJ.replace(N=N), seeds=SEEDS, progress=False, eg_tasks=0)
            for N in (2000, 4000)}
    return ode.integrate(TRAJ), ode.integrate(TRAJ.replace(support="inf")), sims


def _deviations(theory, sims):
    return {N: np.concatenate([(sim.state_error() - theory.eg)[:, 1:, None],
                               (sim.Q - theory.Q)[:, 1:].reshape(SEEDS, -1, 4),
                               (sim.R - theory.R)[:, 1:].reshape(SEEDS, -1, 4),
                               (sim.a - theory.a)[:, 1:].reshape(SEEDS, -1, 2)], axis=2)
            for N, sim in sims.items()}


@pytest.mark.slow
def test_trajectories_match_the_simulation_at_finite_support(trajectories):
    """8 seeds at N = 2000 and 4000 up to α = 4, P = 3: the seed means of the deviations from
    the finite-P ODE (meta-test error of the states, Q, R, a at every record after α = 0),
    extrapolated along limit + β/N, are zero (Holm, family-wise false-alarm rate 10⁻³); the
    population ODE is rejected by the same test."""
    finite, population, sims = trajectories
    ag = size_agreement(_deviations(finite, sims), 0.0, FALSE_ALARM)
    assert ag.ok, (ag.t, ag.p)
    wrong = size_agreement(_deviations(population, sims), 0.0, FALSE_ALARM)
    assert not wrong.ok


# -- the command line --------------------------------------------------------------------------

def test_ode_command_accepts_a_finite_support(tmp_path):
    out = tmp_path / "fs.csv"
    assert main(["ode", "--set", "support=10", "--set", "alpha_max=2",
                 "--out", str(out)]) == 0
    from metarep.trajectory import Trajectory

    traj = Trajectory.from_csv(out)
    assert traj.config.support == 10 and np.all(np.isfinite(traj.eg))
    np.testing.assert_allclose(traj.state_error(), traj.eg, rtol=1e-12)


# -- sweeps over the support size ---------------------------------------------------------------

def test_support_is_sweepable():
    """sweep over {support, eta_in}: each support size runs as its own program and every
    point equals its own integration; a sweep plan of the command line accepts support."""
    from metarep import gridsweep, sweep

    cfg = Config(K=2, M=2, eta_in=0.5, alpha_max=2.0, record_every=1.0, first_order=True)
    res = sweep.sweep(cfg, {"support": [4, np.inf], "eta_in": [0.3, 0.6]})
    assert res.eg.shape == (2, 2, 3)
    for i, P in enumerate((4, "inf")):
        for j, eta_in in enumerate((0.3, 0.6)):
            one = ode.integrate(cfg.replace(support=P, eta_in=eta_in))
            np.testing.assert_array_equal(res.eg[i, j], one.eg)
            np.testing.assert_array_equal(res.Q[i, j], one.Q)
    plan = gridsweep.plan("ode", cfg, gridsweep.parse_grid(["support=3,inf"]))
    assert gridsweep.Plan.from_manifest(plan.manifest()) == plan
    from metarep.errors import ConfigError

    with pytest.raises(ConfigError, match="support must be integers >= 1 or inf"):
        sweep.sweep(cfg, {"support": [2.5]})
