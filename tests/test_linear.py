"""metarep.linear: state vectors and their coordinate names, the Jacobian of the ODE, the
plateau fixed point in the teacher-symmetric subspace and the parity of its modes, the odd
block along a trajectory, its frozen-time rate and its variational propagator."""

import numpy as np
import pytest

from metarep import drift, linear, ode
from metarep.config import Config


def test_state_vector_round_trip():
    Q = np.array([[1.0, 0.3], [0.3, 2.0]])
    R = np.array([[0.1, 0.2], [0.3, 0.4]])
    a = np.array([0.5, -0.5])
    for learn in (True, False):
        x = np.asarray(linear.state_vector(Q, R, a, learn))
        assert x.shape == (3 + 4 + 2 * learn,)
        Q2, R2, a2 = linear.state_from_vector(x, 2, 2, a, learn)
        np.testing.assert_array_equal(Q2, Q)
        np.testing.assert_array_equal(R2, R)
        np.testing.assert_array_equal(a2, a)


def test_state_vector_is_batched_in_the_order_of_the_coordinate_names():
    """x[..., j] is the entry named coordinate_names[j] (Q_i_j for i ≤ j, R_k_m row-major,
    a_k), for any leading axes; without a learned head the a_k are left out."""
    K, M = 3, 2
    rng = np.random.default_rng(0)
    Q = rng.normal(size=(4, 5, K, K))
    R, a = rng.normal(size=(4, 5, K, M)), rng.normal(size=(4, 5, K))
    flat = np.asarray(linear.state_vector(Q, R, a))
    names = linear.coordinate_names(K, M)
    assert flat.shape == (4, 5, len(names)) == (4, 5, 6 + 6 + 3)
    for j, name in enumerate(names):
        sym, *idx = name.split("_")
        want = {"Q": Q, "R": R, "a": a}[sym][(Ellipsis, *map(int, idx))]
        np.testing.assert_array_equal(flat[..., j], want)
    assert linear.coordinate_names(K, M, learn_head=False) == names[:-K]
    np.testing.assert_array_equal(linear.state_vector(Q, R, a, False), flat[..., :-K])
    assert names[:3] == ("Q_0_0", "Q_0_1", "Q_0_2") and names[6:8] == ("R_0_0", "R_0_1")


def test_symmetry_breaking_distance():
    assert linear.symmetry_breaking(np.outer([0.3, -0.7], [1.0, 1.0])) == 0.0
    # R = [[1, 0], [0, 1]]: row means ½, deviations ±½ → norm √(4·¼) = 1
    assert linear.symmetry_breaking(np.eye(2)) == pytest.approx(1.0)
    np.testing.assert_allclose(linear.symmetry_breaking(np.stack([np.eye(2), 2 * np.eye(2)])),
                               [1.0, 2.0])


def test_jacobian_against_finite_differences():
    """The autodiff Jacobian at a generic state equals central differences of the ODE's
    right-hand side (step 1e-6: truncation ~1e-12, rounding ~1e-10)."""
    cfg = Config(K=2, M=2, eta_in=0.7, eta_head=0.8, v_mean=(1.0, 0.4), v_std=0.5,
                 label_noise=0.1, inner_steps=2)
    state = (np.array([[0.8, 0.1], [0.1, 0.6]]), np.array([[0.5, 0.2], [0.1, 0.4]]),
             np.array([0.3, -0.2]))
    J, x = linear.jacobian(state, drift.hyper(cfg), cfg.inner_steps, cfg.first_order, True)
    np.testing.assert_array_equal(x, linear.state_vector(*state))

    def f(v):
        s = linear.state_from_vector(v, 2, 2, state[2], True)
        return np.asarray(linear.state_vector(*drift.rhs(s, cfg)))

    h = 1e-6
    fd = np.column_stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])
    np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-8)
    ev = linear.leading_eigenvalues(J, n=3)
    assert ev.shape == (3,) and np.all(np.diff(ev.real) <= 0)
    assert ev[0].real == pytest.approx(np.linalg.eigvals(J).real.max())


def test_modes_classifies_parity():
    """J built from known eigenvectors: two odd (δR ∝ [[1, −1], [−1, 1]] growing, δR ∝
    [[1, −1], [1, −1]] decaying), seven even."""
    odd = np.array([0, 0, 0, 0.5, -0.5, -0.5, 0.5, 0, 0])
    odd2 = np.array([0, 0, 0, 0.5, -0.5, 0.5, -0.5, 0, 0])
    rng = np.random.default_rng(0)
    even = rng.standard_normal((9, 7))
    # make the even vectors even: R part with equal columns
    for v in even.T:
        r = v[3:7].reshape(2, 2)
        v[3:7] = np.outer(r.mean(axis=1), [1, 1]).ravel()
    V = np.column_stack([odd, even, odd2])
    ev = np.array([0.05, 0.2, -0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7])
    J = V @ np.diag(ev) @ np.linalg.inv(V)
    md = linear.modes(J, 2, 2, True)
    assert md.eigenvalues[0].real == pytest.approx(0.2)      # sorted, an even mode leads
    assert md.odd.sum() == 2 and md.rate == pytest.approx(0.05)
    assert abs(abs(md.vectors[:, md.lead] @ odd) - 1) < 1e-10
    with pytest.raises(ValueError, match="no mode leaves"):
        linear.modes(np.diag(ev), 2, 2, True)    # single entries of R are not odd modes


def test_teacher_symmetric_subspace_needs_symmetric_teacher():
    with pytest.raises(ValueError, match="T ∝ I"):
        linear.check_teacher_symmetric(np.diag([1.0, 2.0]), [1.0, 1.0])
    with pytest.raises(ValueError, match="equal v_mean"):
        linear.check_teacher_symmetric(np.eye(2), [1.0, 0.5])
    linear.check_teacher_symmetric(2.0 * np.eye(3), [0.5, 0.5, 0.5])


@pytest.fixture(scope="module")
def plateau():
    """The plateau of the default configuration, from the state of its ODE at α = 30."""
    cfg = Config(alpha_max=30.0, record_every=30.0, dt=0.05)
    traj = ode.integrate(cfg)
    return cfg, linear.plateau_fixed_point(cfg, (traj.Q[-1], traj.R[-1], traj.a[-1]))


def test_plateau_fixed_point_residual_and_odd_escape_rate(plateau):
    """At the default configuration Newton's method finds the plateau: R = r 1ᵀ exactly, the
    right-hand side vanishes to 1e-10, and the fastest-growing mode is odd (it breaks the
    teacher symmetry) with a positive rate, the fixed point's escape rate."""
    cfg, fp = plateau
    assert fp.residual < 1e-10
    d = drift.rhs((fp.Q, fp.R, fp.a), cfg)
    assert max(np.abs(np.asarray(v)).max() for v in d) < 1e-10
    np.testing.assert_allclose(fp.R[:, 0], fp.R[:, 1], rtol=1e-12)
    np.testing.assert_allclose(fp.Q, fp.Q.T)
    md = linear.modes(fp.J, 2, 2, True)
    assert fp.escape_rate > 0 and fp.escape_rate == fp.eigenvalues[0].real
    assert md.odd[md.lead] and md.lead == 0 and md.rate == pytest.approx(fp.escape_rate)
    # the odd block at the plateau has the fixed point's odd eigenvalues
    blocks = linear.odd_block(cfg, fp.Q, fp.R, fp.a)
    assert blocks.shape == (2, 2)
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(blocks).real),
                               np.sort(md.eigenvalues.real[md.odd]), rtol=1e-9)
    assert linear.odd_rate(blocks) == pytest.approx(md.rate, rel=1e-10)


def test_escape_rate_is_the_growth_rate_of_the_nonlinear_ode(plateau):
    """A perturbation along the leading eigenvector grows at the escape rate in the
    integrated nonlinear ODE (checked in its linear regime, deviation < 1e-3)."""
    cfg, fp = plateau
    w, V = np.linalg.eig(fp.J)
    lead = V[:, np.argmax(w.real)].real
    eps = 1e-7
    x_fp = np.asarray(linear.state_vector(fp.Q, fp.R, fp.a))
    start = linear.state_from_vector(x_fp + eps * lead, 2, 2, fp.a, True)
    t1, t2 = 40.0, 80.0
    pert = ode.integrate(cfg, alphas=[t1, t2], state0=start)
    dev = [np.linalg.norm(np.asarray(linear.state_vector(pert.Q[i], pert.R[i], pert.a[i]))
                          - x_fp) for i in (0, 1)]
    rate = np.log(dev[1] / dev[0]) / (t2 - t1)
    assert dev[1] < 1e-3                              # still linear
    assert rate == pytest.approx(fp.escape_rate, rel=1e-2)


def test_plateau_fixed_point_refuses_an_asymmetric_teacher():
    with pytest.raises(ValueError, match="invariant"):
        linear.plateau_fixed_point(Config(v_mean=(1.0, 0.5)), (np.eye(2), np.ones((2, 2)),
                                                              np.zeros(2)))


@pytest.mark.parametrize("first_order", [False, True])
def test_jacobian_matches_central_differences(first_order):
    """The Jacobian (forward-mode autodiff) equals central differences of the vector field,
    for the first-order meta-gradient too (its adapted head depends on the state: holding
    a′ fixed applies to the gradient, not to the vector field's own derivatives). Central
    differences with step h have an O(h²) truncation error: the two steps h and h/2 must
    agree with the Jacobian to within 4× the change between them plus rounding."""
    import jax
    import jax.numpy as jnp

    from metarep import drift

    cfg = Config(K=2, M=2, eta_in=0.7, eta_head=0.5, inner_steps=2, v_std=0.6,
                 first_order=first_order)
    Q = jnp.array([[0.6, 0.1], [0.1, 0.4]])
    R = jnp.array([[0.3, 0.2], [-0.1, 0.4]])
    a = jnp.array([0.2, -0.3])
    hp = drift.hyper(cfg)
    J, x = linear.jacobian((Q, R, a), hp, cfg.inner_steps, first_order, True)
    f = jax.jit(lambda v: linear.state_vector(*drift.vector_field(
        linear.state_from_vector(v, 2, 2, a, True), hp, cfg.inner_steps, first_order)))

    def central(h):
        E = np.eye(len(x)) * h
        return np.stack([(np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h) for e in E], 1)

    d1, d2 = central(1e-3), central(5e-4)
    bound = 4 * np.abs(d1 - d2).max() + 1e-8
    assert np.abs(J - d2).max() < bound, (np.abs(J - d2).max(), bound)


# -- the fully symmetric plateau ----------------------------------------------------------------

def test_symmetric_coordinates_round_trip_and_batches():
    y = np.array([0.9, 0.4, 0.6, 0.7])
    st = linear.symmetric_state(y, 2, 2, None, True)
    np.testing.assert_allclose(np.asarray(linear.symmetric_coordinates(st)), y)
    Q = np.stack([np.asarray(st.Q)] * 3)
    R, a = np.stack([np.asarray(st.R)] * 3), np.stack([np.asarray(st.a)] * 3)
    assert np.asarray(linear.symmetric_coordinates((Q, R, a))).shape == (3, 4)
    assert np.asarray(linear.symmetric_coordinates((Q, R, a), False)).shape == (3, 3)


@pytest.fixture(scope="module")
def symmetric():
    """The fully symmetric plateau of the default configuration (η_in = 1), from its state at
    α = 30 projected onto the fully symmetric subspace."""
    cfg = Config(alpha_max=30.0, record_every=30.0, dt=0.05)
    traj = ode.integrate(cfg)
    return cfg, linear.symmetric_plateau(cfg, (traj.Q[-1], traj.R[-1], traj.a[-1]))


def test_symmetric_plateau_is_a_fixed_point_with_equal_units(symmetric):
    """The full right-hand side vanishes there (1e-10), every student unit is equivalent, and
    the specialization mode I − 11ᵀ/M is an eigenvector of the full Jacobian whose eigenvalue,
    the escape rate λ, is that of an odd mode (:func:`linear.modes`)."""
    cfg, fp = symmetric
    d = drift.rhs((fp.Q, fp.R, fp.a), cfg)
    assert max(np.abs(np.asarray(v)).max() for v in d) < 1e-10
    assert fp.Q[0, 0] == pytest.approx(fp.Q[1, 1], rel=1e-12)
    np.testing.assert_allclose(fp.R, fp.R[0, 0], rtol=1e-12)
    lam, resid = linear.specialization_rate(fp.J, 2, 2)
    assert resid < 1e-10
    md = linear.modes(fp.J, 2, 2, True)
    assert np.min(np.abs(md.eigenvalues[md.odd].real - lam)) < 1e-10
    sol = linear.symmetric_plateaus(cfg, jax_tree_lead(drift.hyper(cfg)),
                                    np.asarray(linear.symmetric_coordinates((fp.Q, fp.R, fp.a))))
    assert sol.found[0] and sol.steps[0] == 0 and sol.rate[0] == pytest.approx(lam, rel=1e-10)


def jax_tree_lead(hp):
    """A Hyper with a leading batch axis of length 1."""
    import jax

    return jax.tree_util.tree_map(lambda x: np.asarray(x)[None], hp)


def test_symmetric_plateau_runs_away_under_strong_noise(symmetric):
    """With a large outer rate the noise term leaves no plateau at finite norms: the iterates
    run away (q > max_norm) and the point is not found; symmetric_plateau says so."""
    cfg, fp = symmetric
    noisy = cfg.replace(eta=8.0)
    guess = (fp.Q, fp.R, fp.a)
    sol = linear.symmetric_plateaus(noisy, jax_tree_lead(drift.hyper(noisy)),
                                    np.asarray(linear.symmetric_coordinates(guess)),
                                    max_iter=400)
    assert not sol.found[0] and np.isnan(sol.rate[0])
    with pytest.raises(ValueError, match="no plateau at finite norms|did not converge"):
        linear.symmetric_plateau(noisy, guess, max_iter=400)


def test_odd_basis_is_orthonormal_and_spans_the_zero_row_sums():
    """V (n, K(M−1)): orthonormal columns, only R entries, every R row sums to zero, and
    orthogonal to every state of the teacher-symmetric subspace."""
    for K, M, learn in ((2, 2, True), (3, 4, False), (2, 3, True)):
        V = linear.odd_basis(K, M, learn)
        n = len(linear.coordinate_names(K, M, learn))
        assert V.shape == (n, K * (M - 1))
        np.testing.assert_allclose(V.T @ V, np.eye(K * (M - 1)), atol=1e-14)
        for v in V.T:
            Q, R, a = linear.state_from_vector(v, K, M, np.zeros(K), learn)
            assert np.abs(np.asarray(Q)).max() == 0 and np.abs(np.asarray(a)).max() == 0
            np.testing.assert_allclose(np.asarray(R).sum(axis=1), 0.0, atol=1e-14)
        rng = np.random.default_rng(1)
        sym = np.asarray(linear.state_vector(rng.normal(size=(K, K)),
                                             np.outer(rng.normal(size=K), np.ones(M)),
                                             rng.normal(size=K), learn))
        np.testing.assert_allclose(V.T @ sym, 0.0, atol=1e-12)


def test_odd_coordinates_measure_the_odd_part():
    R = np.array([[0.7, 0.2], [0.1, 0.5]])
    phi = linear.odd_coordinates(R, 2, 2)
    assert phi.shape == (2,)
    assert np.linalg.norm(phi) == pytest.approx(linear.symmetry_breaking(R))
    R_sym = linear.teacher_symmetric_projection(R)
    np.testing.assert_allclose(R_sym, [[0.45, 0.45], [0.3, 0.3]])
    np.testing.assert_allclose(linear.odd_coordinates(R_sym, 2, 2), 0.0, atol=1e-15)


def test_odd_block_is_the_jacobian_restricted_to_the_odd_directions():
    """At a teacher-symmetric state (not a fixed point) the Jacobian maps the odd subspace into
    itself (J V = V B); the odd block of a non-symmetric state is that of its projection.
    Batches of any leading shape."""
    cfg = Config(K=2, M=2, eta_in=1.5, v_std=0.5)
    Q = np.array([[0.9, 0.3], [0.3, 0.5]])
    R = np.array([[0.6, 0.6], [0.2, 0.2]])
    a = np.array([0.2, 0.4])
    J, _ = linear.jacobian((Q, R, a), drift.hyper(cfg), cfg.inner_steps, cfg.first_order, True)
    V = linear.odd_basis(2, 2, True)
    B = linear.odd_block(cfg, Q, R, a)
    np.testing.assert_allclose(J @ V, V @ B, atol=1e-12)
    tilted = R + np.array([[0.05, -0.05], [-0.02, 0.02]])
    batch = linear.odd_block(cfg, np.stack([Q] * 3)[None], np.stack([R, tilted, R])[None],
                             np.stack([a] * 3)[None])
    assert batch.shape == (1, 3, 2, 2)
    for b in batch[0]:
        np.testing.assert_allclose(b, B, rtol=1e-12)


def test_odd_propagator_exact_for_constant_blocks_and_second_order():
    """Constant blocks: Φ(α) = exp(α B) exactly. Blocks B(α) = B₀ + α B₁ (not commuting):
    the error against a fine reference falls about fourfold when the spacing is halved."""
    from scipy.linalg import expm

    B0 = np.array([[0.2, 0.1], [0.0, -0.3]])
    B1 = np.array([[0.0, 0.05], [-0.04, 0.01]])
    alpha = np.linspace(0.0, 10.0, 21)
    const = linear.odd_propagator(alpha, np.broadcast_to(B0, (21, 2, 2)))
    np.testing.assert_allclose(const[-1], expm(10.0 * B0), rtol=1e-12)
    np.testing.assert_allclose(const[0], np.eye(2))

    def final(n):
        al = np.linspace(0.0, 10.0, n + 1)
        return linear.odd_propagator(al, B0 + al[:, None, None] * B1)[-1]

    ref = final(4096)
    e1, e2 = (np.abs(final(n) - ref).max() for n in (40, 80))
    assert 3.5 < e1 / e2 < 4.5, (e1, e2)


def test_odd_propagator_predicts_the_odd_part_of_a_trajectory():
    """Along an ODE run with a small odd part the variational equation propagates that odd
    part to relative corrections of second order in its size."""
    cfg = Config(K=2, M=2, eta_in=2.0, dt=0.05)
    start = (0.01 * np.eye(2), np.array([[3e-3, 1e-3], [2e-3, 3.5e-3]]), np.zeros(2))
    alpha = np.concatenate([np.arange(0.0, 10.0, 0.05), np.arange(10.0, 15.0 + 1e-9, 0.25)])
    run = ode.integrate(cfg, alphas=alpha, state0=start)
    B = linear.odd_block(cfg, run.Q, run.R, run.a)
    phi = np.einsum("nij,j->ni", linear.odd_propagator(alpha, B),
                    linear.odd_coordinates(run.R[0], 2, 2))
    odd = linear.symmetry_breaking(run.R)
    assert odd.max() < 0.05
    np.testing.assert_allclose(np.linalg.norm(phi, axis=1), odd, rtol=0.05**2)
