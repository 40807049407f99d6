r"""Plain NumPy reference of the online meta-training step, one step per iteration.

Written as a user would write it, independently of :mod:`metarep.simulator`: the task is
sampled literally (Ξ^τ as an (M, N) array, inputs in ℝᴺ), and the meta-gradient is written
out by hand, backpropagating through the S inner steps of the ANIL head adaptation:

* population inner loop: a_{s+1} = a_s − η_in (C a_s − D v), C = I2(Q), D = I2(Q, R^τ, T^τ),
  with the derivatives of I2(c₁₂; c₁₁, c₂₂) = (2/π) arcsin(c₁₂/√((1+c₁₁)(1+c₂₂))) written out;
* finite support: a_{s+1} = a_s − (η_in/P) Φᵀ(Φ a_s − y_s), Φ = g(X_s Wᵀ/√N).

Used by ``benchmarks/bench_sim.py`` (speed) and ``tests/test_sim.py`` (correctness). The
hyper-parameters are read from a :class:`metarep.config.Config` (attributes only).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf


def g(z):
    """g(z) = erf(z/√2)."""
    return erf(z / np.sqrt(2.0))


def g_prime(z):
    """g'(z) = √(2/π) exp(−z²/2)."""
    return np.sqrt(2.0 / np.pi) * np.exp(-0.5 * z * z)


def i2_and_partials(c12, c11, c22):
    """I2 = (2/π) arcsin(z), z = c12/√((1+c11)(1+c22)), and ∂I2/∂c12, ∂I2/∂c11, ∂I2/∂c22."""
    s = np.sqrt((1.0 + c11) * (1.0 + c22))
    z = c12 / s
    value = 2.0 / np.pi * np.arcsin(z)
    dz = 2.0 / np.pi / np.sqrt(1.0 - z * z)
    return value, dz / s, -0.5 * dz * z / (1.0 + c11), -0.5 * dz * z / (1.0 + c22)


def sample_task(rng: np.random.Generator, W, B, cfg):
    """A fresh task and its samples: dict(v (M,), X (n, N), y (n,), Bt (M, N), Rt, Tt).

    n = P + b support-then-query rows (b for support "inf"); Rt = W B^τᵀ/N, Tt = B^τ B^τᵀ/N.
    """
    M, N = B.shape
    n = (cfg.P or 0) + cfg.query_batch
    v = np.asarray(cfg.v_bar) + cfg.v_std * rng.standard_normal(M)
    Bt = B
    if cfg.teacher_spread > 0:
        Bt = np.sqrt(1 - cfg.teacher_spread**2) * B \
            + cfg.teacher_spread * rng.standard_normal((M, N))
    X = rng.standard_normal((n, N))
    y = g(X @ Bt.T / np.sqrt(N)) @ v + cfg.label_noise * rng.standard_normal(n)
    return {"v": v, "X": X, "y": y, "Bt": Bt, "Rt": W @ Bt.T / N, "Tt": Bt @ Bt.T / N}


def increment(W, a, task, cfg):
    """(ΔW (K, N), Δa (K,)) of one meta-training step on ``task`` (explicit gradients)."""
    K, N = W.shape
    S, P, b = cfg.inner_steps, cfg.P, cfg.query_batch
    eta_in = cfg.eta_in
    v, X, y = task["v"], task["X"], task["y"]
    sqN = np.sqrt(N)
    Xq, yq = X[-b:], y[-b:]

    # inner loop (forward), keeping every iterate for the backward pass
    if P is None:
        Q = W @ W.T / N
        qd, td = np.diag(Q), np.diag(task["Tt"])
        C, dC12, dC11, dC22 = i2_and_partials(Q, qd[:, None], qd[None, :])
        D, dD12, dD11, _ = i2_and_partials(task["Rt"], qd[:, None], td[None, :])
    else:
        Xs, ys = X[:P], y[:P]
        lam_s = Xs @ W.T / sqN
        Phi = g(lam_s)
    heads = [a]
    for _ in range(S):
        h = heads[-1]
        grad = C @ h - D @ v if P is None else Phi.T @ (Phi @ h - ys) / P
        heads.append(h - eta_in * grad)
    a_prime = heads[-1]

    # query loss ℓ = (1/2b) Σ_q δ_q², δ = f − y, and its direct derivatives
    lam_q = Xq @ W.T / sqN
    delta = g(lam_q) @ a_prime - yq
    dl_da_prime = g(lam_q).T @ delta / b
    grad_W = (delta[:, None] * g_prime(lam_q) * a_prime).T @ Xq / (b * sqN)

    if cfg.first_order:
        dl_da = dl_da_prime
    else:
        # backward through the inner loop
        gbar = dl_da_prime
        if P is None:
            Cbar, Dbar = np.zeros((K, K)), np.zeros_like(D)
            for s in reversed(range(S)):
                Cbar -= eta_in * np.outer(gbar, heads[s])
                Dbar += eta_in * np.outer(gbar, v)
                gbar = gbar - eta_in * C.T @ gbar
            # C_kl = I2(Q_kl; Q_kk, Q_ll), D_km = I2(R_km; Q_kk, T_mm): gradient w.r.t. the
            # entries of Q (unsymmetrised) and of R^τ
            GQ = Cbar * dC12
            GQ += np.diag((Cbar * dC11).sum(axis=1) + (Cbar * dC22).sum(axis=0)
                          + (Dbar * dD11).sum(axis=1))
            GR = Dbar * dD12
            grad_W = grad_W + (GQ + GQ.T) @ W / N + GR @ task["Bt"] / N
        else:
            Phibar = np.zeros_like(Phi)
            for s in reversed(range(S)):
                r = Phi @ heads[s] - ys
                Phibar -= eta_in / P * (np.outer(r, gbar) + np.outer(Phi @ gbar, heads[s]))
                gbar = gbar - eta_in / P * Phi.T @ (Phi @ gbar)
            grad_W = grad_W + (Phibar * g_prime(lam_s)).T @ Xs / sqN
        dl_da = gbar
    return -cfg.eta * grad_W, -cfg.eta_head / N * dl_da


def run(cfg, B, W, a, steps: int, seed: int = 0):
    """``steps`` online meta-training steps from (W, a); returns the final (W, a)."""
    rng = np.random.default_rng(seed)
    W, a = W.copy(), a.copy()
    for _ in range(steps):
        dW, da = increment(W, a, sample_task(rng, W, B, cfg), cfg)
        W += dW
        a += da
    return W, a


def run_first_order(cfg, B, W, a, steps: int, seed: int = 0, every: int = 0):
    """The first-order step with the population inner loop and σ_B = 0, written with its
    loop invariants hoisted (T, the scalings): what a careful user writes for this case, and
    the fastest NumPy loop benchmarks compare against. Draws the same numbers in the same
    order as :func:`run` and equals it to rounding (``tests/test_sim.py``).

    Returns (W, a, records): records [(t, Q, R, a)] at t = 0, every, 2·every, …, steps
    (none if ``every`` = 0).
    """
    if cfg.P is not None or cfg.teacher_spread > 0 or not cfg.first_order:
        raise ValueError("run_first_order: first_order, support 'inf' and teacher_spread 0")
    rng = np.random.default_rng(seed)
    W, a = W.copy(), a.copy()
    (K, N), M = W.shape, B.shape[0]
    b, S = cfg.query_batch, cfg.inner_steps
    sqN = np.sqrt(N)
    v_bar, v_std, noise = np.asarray(cfg.v_bar, dtype=float), cfg.v_std, cfg.label_noise
    eta_in = cfg.eta_in
    step_W, step_a = cfg.eta / (b * sqN), cfg.eta_head / (N * b)
    t1 = 1.0 + np.diag(B @ B.T / N)
    records = []
    for t in range(steps + 1):
        if every and t % every == 0:
            records.append((t, W @ W.T / N, W @ B.T / N, a.copy()))
        if t == steps:
            break
        v = v_bar + v_std * rng.standard_normal(M)
        X = rng.standard_normal((b, N))
        y = g(X @ B.T / sqN) @ v + noise * rng.standard_normal(b)
        Q, R = W @ W.T / N, W @ B.T / N
        q1 = 1.0 + np.diag(Q)
        C = 2.0 / np.pi * np.arcsin(Q / np.sqrt(np.outer(q1, q1)))
        Dv = 2.0 / np.pi * np.arcsin(R / np.sqrt(np.outer(q1, t1))) @ v
        h = a
        for _ in range(S):
            h = h - eta_in * (C @ h - Dv)
        lam = X @ W.T / sqN
        gl = g(lam)
        delta = gl @ h - y
        W -= step_W * ((delta[:, None] * g_prime(lam) * h).T @ X)
        a -= step_a * (gl.T @ delta)
    return W, a, records
