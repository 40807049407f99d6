"""metarep.studies.finite_size: runs at several N against the ODE from each run's own start.

The "runs" are ODE integrations from perturbed starts plus a known deviation 1/√N, so that
every quantity of the analysis is known in closed form."""

import numpy as np
import pytest

from metarep import ode
from metarep.analysis import specialization_time
from metarep.config import Config
from metarep.studies import finite_size as F
from metarep.trajectory import Trajectory

CFG = Config(K=2, M=2, N=200, eta=1.0, eta_in=0.5, eta_head=0.5, v_mean=1.0, v_std=0.5,
             label_noise=0.1, alpha_max=1.0, record_every=0.5,
             Q0=((0.5, 0.1), (0.1, 0.4)), R0=((0.3, 0.1), (0.1, 0.2)), a0=(0.2, 0.1))


def _finite_size_fixture():
    """Runs at two N that start from perturbed states of CFG; the 'runs' are ODE integrations
    from those starts plus a known deviation 1/√N, so that every quantity is known."""
    rng = np.random.default_rng(2)
    sims = {}
    for N in (100, 400):
        Qs, Rs, As, egs = [], [], [], []
        for s in range(3):
            R0 = CFG.R0_array + 0.05 * rng.normal(size=(2, 2))
            run = ode.integrate(CFG, state0=(CFG.Q0_array, R0, CFG.a0_array))
            bump = np.where(run.alpha > 0, 1 / np.sqrt(N), 0.0)[:, None, None]
            Qs.append(run.Q + bump)
            Rs.append(run.R)
            As.append(run.a)
            egs.append(run.eg)
        sims[N] = Trajectory(run.alpha, np.stack(Qs), np.stack(Rs), np.stack(As), np.stack(egs),
                             seeds=np.arange(3), config=CFG)
    return sims


def test_finite_size_against_known_deviation():
    sims = _finite_size_fixture()
    fs = F.finite_size(sims, window=1.0)
    # every Q entry (3 of the 7 Q, R entries) is off by exactly 1/√N after α = 0
    for i, N in enumerate((100, 400)):
        np.testing.assert_allclose(fs.dev_curve[i][1:], np.sqrt(3 / 7 / N), rtol=1e-9)
        records = len(fs.alpha)
        assert fs.dev[i] == pytest.approx(np.sqrt(3 / 7 / N * (records - 1) / records),
                                          rel=1e-9)
        assert fs.t_sim[i].shape == (3,) and fs.spec_sim[i].shape == (3, records)
        np.testing.assert_array_equal(fs.t_sim[i], specialization_time(fs.alpha,
                                                                       fs.spec_sim[i]))
    # the specialization index of the ODE from a run's start equals the run's when R agrees
    np.testing.assert_allclose(fs.spec_ode[0][:, 0], fs.spec_sim[0][:, 0], rtol=1e-12)
    with pytest.raises(ValueError, match="same times"):
        F.finite_size({100: sims[100], 400: sims[400].replace(alpha=sims[400].alpha + 0.1)},
                      window=1.0)


def test_own_ode_starts_each_run_from_its_first_record():
    """own_ode integrates each seed from its own (Q, R, a) at α = 0, with its own T when the
    runs have per-seed teacher overlaps."""
    sims = _finite_size_fixture()[100]
    th = F.own_ode(sims)
    assert th.seeds.tolist() == [0, 1, 2] and th.eg.shape == sims.eg.shape
    for s in range(3):
        ref = ode.integrate(CFG, sims.alpha, state0=(sims.Q[s, 0], sims.R[s, 0], sims.a[s, 0]))
        np.testing.assert_allclose(th.eg[s], ref.eg, rtol=1e-12)
    T = np.stack([np.eye(2), np.diag([1.2, 0.9]), np.array([[1.0, 0.1], [0.1, 1.1]])])
    th_T = F.own_ode(sims.replace(T=T))
    np.testing.assert_array_equal(th_T.T, T)
    for s in range(3):
        ref = ode.integrate(CFG, sims.alpha, state0=(sims.Q[s, 0], sims.R[s, 0], sims.a[s, 0]),
                            T=T[s])
        np.testing.assert_allclose(th_T.eg[s], ref.eg, rtol=1e-12)
        np.testing.assert_allclose(th_T.R[s], ref.R, rtol=1e-12, atol=1e-14)


def test_plateau_fit_recovers_log_law():
    t = {100: np.array([5.0, 5.2, 4.8]), 400: np.array([6.0, 6.2, 5.8]),
         1600: np.array([7.0, 7.2, 6.8])}
    fs = F.FiniteSize(np.array([100.0, 400.0, 1600.0]), np.zeros(1), 1.0, [], np.ones(3),
                      np.ones(3), list(t.values()), list(t.values()), [], [])
    B, B_se, c = fs.plateau_fit("sim")
    assert B == pytest.approx(1 / np.log(4)) and B_se > 0
    assert c == pytest.approx(5.0 - np.log(100) / np.log(4))
    with pytest.raises(ValueError, match="never specialize"):
        F.FiniteSize(fs.N, fs.alpha, 1.0, [], fs.dev, fs.dev_se,
                     [np.array([np.inf, 1.0])] * 3, [], [], []).plateau_fit("sim")


def test_horizons_shrink_like_the_spread_of_the_specialization_time():
    """The smallest size runs to α_max; larger sizes stop after t_ode by a margin that falls
    like 1/√N, snapped up to a record (never before the ODE's specialization time)."""
    from metarep.config import Config
    from metarep.studies.finite_size import horizons

    cfg = Config(K=2, M=2, N=500, alpha_max=10.0, record_every=0.25)
    ends = horizons(cfg, 6.0, (8000, 500, 2000))
    assert list(ends) == [500, 2000, 8000]
    assert ends[500] == 10.0
    assert ends[2000] == 8.0                       # 6 + 4·√(1/4)
    assert ends[8000] == 7.0                       # 6 + 4·√(1/16)
    assert horizons(cfg, 6.1, (500, 8000))[8000] == 7.25   # 7.025 snapped up to a record
    assert all(e in cfg.record_alphas for e in ends.values())
