"""metarep.studies.dynamics: batched ODE from the seeds' initial states, crossing times,
relabelling of units, phases."""

import numpy as np
import pytest

from metarep import ode
from metarep.config import Config
from metarep.observables import specialization_index
from metarep.studies import dynamics as dyn
from metarep.trajectory import Trajectory


def test_crossing_time_interpolates_and_flags():
    alpha = np.array([0.0, 1.0, 2.0, 3.0])
    x = np.array([[0.0, 0.2, 0.6, 1.0],      # crosses ½ between 1 and 2, at 1.75
                  [0.0, 0.1, 0.2, 0.3],      # never
                  [0.7, 0.8, 0.9, 1.0]])     # already above at the start
    t = dyn.crossing_time(alpha, x, 0.5)
    assert t[0] == pytest.approx(1.75)
    assert np.isnan(t[1])
    assert t[2] == 0.0
    assert dyn.crossing_time(alpha, x[0], 0.5).shape == ()


def _toy(seeds=None):
    """Unit 0 ends aligned with teacher 1 with a negative cosine, unit 1 with teacher 0."""
    n = 11
    alpha = np.linspace(0, 10, n)
    s = np.linspace(0, 1, n)
    R = np.zeros((n, 2, 2))
    R[:, 0, 1] = -(0.5 + 0.5 * s)
    R[:, 0, 0] = -0.5 * (1 - s)
    R[:, 1, 0] = 0.5 + 0.5 * s
    R[:, 1, 1] = 0.5 * (1 - s)
    Q = np.broadcast_to(np.array([[1.0, -0.3], [-0.3, 2.0]]), (n, 2, 2)).copy()
    a = np.broadcast_to(np.array([-0.4, 0.7]), (n, 2)).copy()
    eg = 0.1 * (1 - s) + 0.01
    if seeds is not None:
        Q, R, a, eg = (np.stack([x] * len(seeds)) for x in (Q, R, a, eg))
    return Trajectory(alpha, Q, R, a, eg, seeds=seeds)


@pytest.mark.parametrize("seeds", [None, np.array([0, 1])])
def test_canonical_units_relabels_and_reflects(seeds):
    tr = _toy(seeds)
    can = dyn.canonical_units(tr)
    last = can.cosines()[..., -1, :, :]
    np.testing.assert_allclose(last, np.broadcast_to(np.diag([2**-0.5, 1.0]), last.shape),
                               atol=1e-15)
    # unit 1 of the toy (Q_11 = 2, a = 0.7) becomes unit 0; unit 0 is reflected
    np.testing.assert_allclose(can.Q[..., 0, 0], 2.0)
    np.testing.assert_allclose(can.Q[..., 0, 1], 0.3)
    last_a = can.a[..., -1, :]
    np.testing.assert_allclose(last_a, np.broadcast_to([0.7, 0.4], last_a.shape))
    # observables invariant under relabelling: specialization index, norms, error
    np.testing.assert_allclose(specialization_index(can.Q, can.R, can.T),
                               specialization_index(tr.Q, tr.R, tr.T), atol=1e-15)
    np.testing.assert_allclose(can.eg, tr.eg)


def test_phases_of_a_synthetic_run():
    alpha = np.linspace(0, 60, 601)
    eg_plateau = 0.1
    eg = eg_plateau + 0.3 * np.exp(-alpha) - 0.09 / (1 + np.exp(-(alpha - 30) / 2))
    s = 1 / (1 + np.exp(-(alpha - 30) / 2))
    n = len(alpha)
    # cosines for s: unit k aligned with teacher k with c² − c'² = s
    c2 = (1 + s) / 2
    R = np.zeros((n, 2, 2))
    R[:, 0, 0] = R[:, 1, 1] = np.sqrt(c2)
    R[:, 0, 1] = R[:, 1, 0] = np.sqrt(1 - c2)
    Q = np.broadcast_to(np.eye(2), (n, 2, 2))
    tr = Trajectory(alpha, Q, R, np.zeros((n, 2)), eg, observables={"specialization": s})
    np.testing.assert_allclose(specialization_index(Q, R, np.eye(2)), s, atol=1e-12)
    ph = dyn.phases(tr)
    assert ph.onset == pytest.approx(30 - 2 * np.log(9), abs=0.01)        # s = 0.1
    assert ph.specialized == pytest.approx(30 + 2 * np.log(9), abs=0.01)  # s = 0.9
    assert ph.eg_plateau == pytest.approx(eg_plateau, abs=1e-3)
    assert ph.escape == pytest.approx(np.log(10), abs=0.05)   # 0.3 e^{-α} = 0.1·0.3
    with pytest.raises(ValueError, match="does not reach"):
        dyn.phases(tr.replace(observables={"specialization": 0.5 * s}))


def test_integrate_seeds_matches_single_integrations():
    """The vmapped batch (with padding) reproduces ode.integrate from each seed's start."""
    cfg = Config(N=200, eta_in=2.0, alpha_max=4.0, record_every=1.0, dt=0.05)
    alphas = cfg.record_alphas
    batch = dyn.integrate_seeds(cfg, [3, 5], alphas, pad_to=3)
    assert batch.Q.shape == (2, len(alphas), 2, 2)
    for i, seed in enumerate([3, 5]):
        one = ode.integrate(cfg.replace(seed=seed), alphas)
        np.testing.assert_allclose(batch.Q[i], one.Q, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(batch.R[i], one.R, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(batch.eg[i], one.eg, rtol=1e-12)
        np.testing.assert_allclose(batch.observables["specialization"][i],
                                   one.observables["specialization"], rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="pad_to"):
        dyn.integrate_seeds(cfg, [3, 5], alphas, pad_to=1)
