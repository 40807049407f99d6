"""The NumPy side of ``bench_process.py``: one whole process that does what
``python -m metarep sim`` does for N = 1000, K = M = 2, first order, population inner loop,
σ_B = 0, head initialisation fixed, one seed — without JAX.

Imports NumPy and SciPy only, builds an orthogonal teacher and a Gaussian initial body with
NumPy's generator, runs ``numpy_reference.run_first_order`` (the hoisted first-order loop)
for ``--steps`` steps, records Q, R, a every N steps and writes them as a CSV table. It
computes no meta-test error, so it does less than metarep.

    python benchmarks/numpy_process.py --steps 100000 --out numpy.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_reference  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--N", type=int, default=1000)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    K = M = 2
    N = args.N
    cfg = SimpleNamespace(P=None, teacher_spread=0.0, first_order=True, query_batch=1,
                          inner_steps=1, v_bar=np.ones(M), v_std=0.5, label_noise=0.0,
                          eta=1.0, eta_in=1.0, eta_head=0.0)
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((N, M)))
    B = np.sqrt(N) * q.T                                  # B Bᵀ/N = I
    W = 0.1 * rng.standard_normal((K, N))
    _, _, records = numpy_reference.run_first_order(cfg, B, W, np.zeros(K), args.steps,
                                                    seed=1, every=N)
    names = ["alpha", *(f"Q_{i}_{j}" for i in range(K) for j in range(i, K)),
             *(f"R_{i}_{m}" for i in range(K) for m in range(M)), *(f"a_{i}" for i in range(K))]
    lines = [",".join(names)]
    for t, Q, R, a in records:
        row = [t / N, *Q[np.triu_indices(K)], *R.ravel(), *a]
        lines.append(",".join(repr(float(x)) for x in row))
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
