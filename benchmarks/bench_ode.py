"""Speed of the ODE theory (issue 3): single trajectories, a phase-diagram sweep, and a plain
NumPy reference.

    .venv/bin/python benchmarks/bench_ode.py [--dt 0.01] [--quick]

Measures, for the default configuration (full meta-gradient, S = 1, learned head):

* K = M = 2 and K = M = 6 to α = 1000 (records every Δα = 1): compile time (a call with the
  same number of records over a negligible α range) and wall time of a compiled call;
* the few-shot theory (``support = 10``, S = 1) for K = M = 2 to α = 100 at the default step
  (dt = 0.05, with the accuracy check's second integration), compile and wall time;
* a 32 × 32 (η, η_in) sweep to α = 200 (records every Δα = 10), vmapped;
* the same RK4 in plain NumPy for the classic limit (η_in = 0, one task: the Goldt et al.
  2019 equations written with vectorised I3/I4), against metarep.ode on that configuration,
  K = M = 2, to α = 100 — the ratio is the speed-up of the JAX implementation.

Timings are wall-clock on whatever machine runs this (the project's CI box has 2 cores
shared with other jobs; the CPU time is printed too).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import erf  # noqa: F401  (SciPy is the reference stack's only extra)

import jax

from metarep import ode, sweep
from metarep.config import Config


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    jax.block_until_ready(jax.tree_util.tree_leaves(out) if not hasattr(out, "eg") else out.eg)
    return out, time.perf_counter() - w, time.process_time() - c


# -- plain NumPy reference: classic two-layer ODE (η_in = 0, single task) -------------------

def _i3(O, i, n, p):
    c11, c12, c13, c23, c33 = O[i, i], O[i, n], O[i, p], O[n, p], O[p, p]
    return (2 / np.pi) * (c23 * (1 + c11) - c12 * c13) / (
        (1 + c11) * np.sqrt((1 + c11) * (1 + c33) - c13**2))


def _i4(O, i, k, p, q):
    p1, p2 = 1 + O[i, i], 1 + O[k, k]
    l4 = p1 * p2 - O[i, k] ** 2
    l0 = (l4 * O[p, q] - O[k, p] * O[k, q] * p1 - O[i, p] * O[i, q] * p2
          + O[i, k] * O[i, p] * O[k, q] + O[i, k] * O[i, q] * O[k, p])
    l1 = l4 * (1 + O[p, p]) - O[k, p] ** 2 * p1 - O[i, p] ** 2 * p2 + 2 * O[i, k] * O[i, p] * O[k, p]
    l2 = l4 * (1 + O[q, q]) - O[k, q] ** 2 * p1 - O[i, q] ** 2 * p2 + 2 * O[i, k] * O[i, q] * O[k, q]
    return 4 / np.pi**2 / np.sqrt(l4) * np.arcsin(l0 / np.sqrt(l1 * l2))


def numpy_classic_rhs(Q, R, a, T, v, eta, eta_a):
    K, M = R.shape
    n = K + M
    O = np.block([[Q, R], [R.T, T]])
    c = np.concatenate([a, -v])
    i, j, p = np.ix_(range(K), range(n), range(n))
    I3 = _i3(O, i, j, p)                                   # (K, n, n): I3(λ_i, h_j, h_p)
    drive = a[:, None] * np.einsum("ijp,p->ij", I3, -c)   # a_i ⟨g'(λ_i) h_j (y − f)⟩
    ii, kk, pp, qq = np.ix_(range(K), range(K), range(n), range(n))
    I4 = _i4(O, ii, kk, pp, qq)
    quartic = np.einsum("ikpq,p,q->ik", I4, c, c)
    dR = eta * drive[:, K:]
    dQ = eta * (drive[:, :K] + drive[:, :K].T) + eta**2 * np.outer(a, a) * quartic
    I2 = (2 / np.pi) * np.arcsin(O[:K] / np.sqrt(np.outer(1 + np.diag(O)[:K], 1 + np.diag(O))))
    da = eta_a * (I2 @ -c)
    return dQ, dR, da


def numpy_classic_integrate(Q, R, a, T, v, eta, eta_a, alpha, dt):
    y = (Q, R, a)
    f = lambda s: numpy_classic_rhs(*s, T, v, eta, eta_a)  # noqa: E731
    add = lambda s, k, h: tuple(x + h * d for x, d in zip(s, k))  # noqa: E731
    for _ in range(int(round(alpha / dt))):
        k1 = f(y)
        k2 = f(add(y, k1, dt / 2))
        k3 = f(add(y, k2, dt / 2))
        k4 = f(add(y, k3, dt))
        y = tuple(x + dt / 6 * (a + 2 * b + 2 * c + d) for x, a, b, c, d in zip(y, k1, k2, k3, k4))
    return y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dt", type=float, default=0.01, help="RK4 step (default 0.01)")
    ap.add_argument("--quick", action="store_true", help="shorter runs (α/10, 8×8 sweep)")
    ap.add_argument("--no-sweep", action="store_true", help="skip the 32×32 sweep")
    args = ap.parse_args()
    scale = 0.1 if args.quick else 1.0
    rows = []

    for K in (2, 6):
        cfg = Config(K=K, M=K, alpha_max=1000.0 * scale, record_every=1.0, dt=args.dt)
        # compile: a run with the same number of records over a tiny α range (one RK4 step
        # per record), so that the compilation dominates; the timed run then reuses it
        tiny = np.linspace(0.0, 1e-3 * args.dt * len(cfg.record_alphas), len(cfg.record_alphas))
        _, w1, c1 = timed(lambda: ode.integrate(cfg, alphas=tiny))
        traj, w2, c2 = timed(lambda: ode.integrate(cfg))
        rows.append((f"trajectory K=M={K}, α={cfg.alpha_max:g}", w1, w2, c2,
                     f"eg(end)={traj.eg[-1]:.5f}; compile cpu {c1:.1f} s"))

    # few-shot theory (finite support, metarep.support): K = M = 2, P = 10, S = 1 to α = 100
    # at the configuration's own step (target: under 5 s after compilation)
    cfg = Config(K=2, M=2, support=10, alpha_max=100.0 * scale)
    tiny = np.linspace(0.0, 1e-3 * cfg.dt * len(cfg.record_alphas), len(cfg.record_alphas))
    _, w1, c1 = timed(lambda: ode.integrate(cfg, alphas=tiny))
    traj, w2, c2 = timed(lambda: ode.integrate(cfg))
    rows.append((f"few-shot P=10, S=1, K=M=2, α={cfg.alpha_max:g}, dt={cfg.dt:g}", w1, w2, c2,
                 f"eg(end)={traj.eg[-1]:.5f}; compile cpu {c1:.1f} s"))

    if not args.no_sweep:
        n = 8 if args.quick else 32
        cfg = Config(alpha_max=200.0 * scale, record_every=10.0 * scale, dt=args.dt)
        grid = {"eta": np.linspace(0.1, 4.0, n), "eta_in": np.linspace(0.0, 2.0, n)}
        res, w, c = timed(lambda: sweep.sweep(cfg, grid))
        rows.append((f"sweep {n}×{n} (η, η_in), α={cfg.alpha_max:g} (incl. compile)",
                     float("nan"), w, c, f"diverged: {int(res.diverged[..., -1].sum())}/{n * n}"))

    # classic limit, JAX vs NumPy
    alpha = 100.0 * scale
    cfg = Config(K=2, M=2, eta_in=0.0, v_std=0.0, v_mean=1.0, eta_head=1.0, alpha_max=alpha,
                 record_every=alpha, dt=args.dt)
    s0, T = ode.initial_state(cfg)
    _, w1, _ = timed(lambda: ode.integrate(cfg, alphas=[0.0, 1e-3 * args.dt]))
    traj, wj, cj = timed(lambda: ode.integrate(cfg))
    _, wn, cn = timed(lambda: numpy_classic_integrate(
        np.asarray(s0.Q), np.asarray(s0.R), np.asarray(s0.a), T, cfg.v_bar, cfg.eta,
        cfg.eta_head, alpha, args.dt))
    yQ = numpy_classic_integrate(np.asarray(s0.Q), np.asarray(s0.R), np.asarray(s0.a), T,
                                 cfg.v_bar, cfg.eta, cfg.eta_head, alpha, args.dt)[0]
    agree = np.abs(yQ - traj.Q[-1]).max()
    rows.append((f"classic limit K=M=2, α={alpha:g}: metarep.ode", w1, wj, cj,
                 f"max|ΔQ| vs NumPy {agree:.1e}"))
    rows.append((f"classic limit K=M=2, α={alpha:g}: plain NumPy RK4", float("nan"), wn, cn,
                 f"NumPy/JAX wall ratio {wn / wj:.0f}×"))

    print(f"\nmetarep ODE benchmark (dt = {args.dt}, jax {jax.__version__}, "
          f"{jax.devices()[0].platform})")
    print(f"{'case':<62} {'compile s':>9} {'wall s':>8} {'cpu s':>8}  note")
    for name, comp, wall, cpu, note in rows:
        comp_s = "" if np.isnan(comp) else f"{comp:9.2f}"
        print(f"{name:<62} {comp_s:>9} {wall:8.2f} {cpu:8.2f}  {note}")


if __name__ == "__main__":
    main()
