"""Drift test (SPEC §3.2): the ODE right-hand side against single steps of the simulator.

From one microscopic state (N = 1000, K = 3 ≠ M = 2, orthogonal teacher, learned head,
v̄ ≠ 0, σ_v > 0, label noise σ > 0), :func:`metarep.simulator.step_increments` takes
n = 40 000 independent single meta-training steps (fresh task and samples each; its
meta-gradient is autodiff of the per-sample loss, not the ODE's formulas) and returns N·ΔQ,
N·ΔR, N·Δa. Their sample means estimate dQ/dα, dR/dα, da/dα; each entry is compared with
:func:`metarep.ode.rhs` at the measured overlaps as a z-score with the sample standard error.
|z| < 4 bounds the Monte-Carlo error (the finite-N bias is O(1/N), well below the standard
error ≈ 1.5·10⁻³ here). The test has power: with 60 000 steps, swapping the full and the
first-order theory gave |z| up to 50–130, and ignoring σ_B gave |z| ≈ 8. Cases: full and
first-order meta-gradient, S ∈ {1, 2}, query batch 1 and 2, teacher spread σ_B = 0.3 in one.
"""

import jax
import numpy as np
import pytest

from metarep import ode, simulator
from metarep.config import Config
from metarep.initial import initial_weights, overlaps

N_STEPS = 40_000
Z_MAX = 4.0

BASE = dict(K=3, M=2, N=1000, eta=1.0, eta_in=0.5, eta_head=0.8, v_mean=(1.0, -0.5),
            v_std=0.5, label_noise=0.1, seed=3,
            Q0=((1.0, 0.2, 0.1), (0.2, 0.8, -0.1), (0.1, -0.1, 1.2)),
            R0=((0.6, 0.1), (0.2, 0.5), (0.3, 0.3)), a0=(0.5, -0.3, 0.8))


@pytest.mark.parametrize("first_order, inner_steps, query_batch, spread",
                         [(False, 1, 1, 0.0), (False, 2, 2, 0.0), (True, 1, 1, 0.0),
                          (True, 2, 1, 0.0), (False, 2, 1, 0.3)])
def test_drift_matches_simulator(first_order, inner_steps, query_batch, spread):
    cfg = Config(**BASE, first_order=first_order, inner_steps=inner_steps,
                 query_batch=query_batch, teacher_spread=spread)
    B, W, a = initial_weights(cfg)
    Q, R, T = overlaps(W, B)
    inc = simulator.step_increments(cfg, W, B, a, jax.random.PRNGKey(11), N_STEPS)
    theory = ode.rhs((Q, R, a), cfg, T=T)
    K = cfg.K
    iu = np.triu_indices(K)
    for name, pred, samples in [("Q", np.asarray(theory.Q)[iu], inc["Q"][:, iu[0], iu[1]]),
                                ("R", np.asarray(theory.R).ravel(), inc["R"].reshape(N_STEPS, -1)),
                                ("a", np.asarray(theory.a), inc["a"])]:
        mean = samples.mean(axis=0)
        se = samples.std(axis=0, ddof=1) / np.sqrt(N_STEPS)
        z = (mean - pred) / se
        assert np.all(np.abs(z) < Z_MAX), f"{name}: theory {pred}, simulation {mean} ± {se}, z {z}"
