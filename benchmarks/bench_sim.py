"""Speed of the simulator: metarep against a plain NumPy loop and the random-number floor.

For N = 1000, 10000, K = M = 2, 6, support "inf" and P = 10, 1 seed and 8 seeds vmapped
(other keys: the Config defaults, i.e. full meta-gradient, S = 1, b = 1, σ_B = 0), it reports
in one run

* NumPy: ``benchmarks/numpy_reference.py``, a Python loop of one step per iteration (its rate
  per seed does not depend on the number of seeds: seeds run one after the other);
* metarep: the compiled training loop of :func:`metarep.simulator.simulate` (no records);
* floor: the same Gaussian numbers alone, drawn the way metarep draws them
  (:mod:`metarep.gaussian`, blocks of steps, in a compiled loop, vmapped over seeds), and, for
  orientation, NumPy's generator in blocks.

Rates are seed-steps per second (steps × seeds / time), best of ``--repeat`` timings. The
machine may be shared: compare ratios measured in the same run, not absolute numbers across
runs. The process pins itself to one core (``os.sched_setaffinity``), which speeds up small
``lax.scan``/``fori_loop`` bodies on CPU.

    .venv/bin/python benchmarks/bench_sim.py [--quick] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # before JAX starts its threads

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_reference  # noqa: E402

from metarep import simulator as sim  # noqa: E402
from metarep.config import Config  # noqa: E402
from metarep.initial import initial_weights  # noqa: E402


def _best_rate(run, units: int, repeat: int) -> float:
    """Best of ``repeat`` timings of ``run()`` (already compiled), in units per second."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(run())
        best = min(best, time.perf_counter() - t0)
    return units / best


def _calibrate(run_n, budget: float) -> int:
    """A step count whose run takes about ``budget`` seconds (after compiling)."""
    n = 16
    jax.block_until_ready(run_n(n))
    while True:
        t0 = time.perf_counter()
        jax.block_until_ready(run_n(n))
        dt = time.perf_counter() - t0
        if dt > budget / 4 or n > 10**7:
            return max(16, int(n * budget / dt))
        n *= 4


def numpy_loop_rate(cfg: Config, budget: float) -> float:
    B, W, a = initial_weights(cfg)
    numpy_reference.run(cfg, B, W, a, 5)
    steps = 5
    while True:
        t0 = time.perf_counter()
        numpy_reference.run(cfg, B, W, a, steps)
        dt = time.perf_counter() - t0
        if dt > budget / 2:
            return steps / dt
        steps *= 2


def numpy_floor_rate(cfg: Config, budget: float) -> float:
    """NumPy's generator: the (P + b)·N + M + n normals of a step, drawn in blocks."""
    per_step = ((cfg.P or 0) + cfg.query_batch) * (cfg.N + 1) + cfg.M
    block = max(1, 2**20 // per_step)
    rng = np.random.default_rng(0)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < budget:
        rng.standard_normal((block, per_step))
        steps += block
    return steps / (time.perf_counter() - t0)


def _state(cfg: Config, seeds: int):
    init = [initial_weights(cfg.replace(seed=s)) for s in range(seeds)]
    B, W, a = (jnp.asarray(np.stack(x)) for x in zip(*init))
    keys = jnp.stack([sim.run_keys(s)[0] for s in range(seeds)])
    return B, W, a, keys


def metarep_rate(cfg: Config, seeds: int, budget: float, repeat: int) -> float:
    spec, prm = sim.spec_of(cfg), sim.params_of(cfg)
    B, W, a, keys = _state(cfg, seeds)
    bad = jnp.full((seeds,), -1)

    def run_n(n):
        return sim._advance(W, a, bad, B, keys, 0, n, prm, spec)

    n = _calibrate(run_n, budget)
    return _best_rate(lambda: run_n(n), n * seeds, repeat)


def jax_floor_rate(cfg: Config, seeds: int, budget: float, repeat: int) -> float:
    """The random numbers of metarep's step alone (same calls, same shapes, same blocks)."""
    spec, prm = sim.spec_of(cfg), sim.params_of(cfg)
    _, _, _, keys = _state(cfg, seeds)
    L = sim._block_length(spec)

    @jax.jit
    def run(n_blocks):
        def body(j, acc):
            d = jax.vmap(lambda k: sim._draw_block(k, j, spec, prm))(keys)
            # sum everything drawn, or XLA would generate only the numbers that are read
            return acc + d.X.sum((1, 2, 3)) + d.zeta.sum((1, 2)) + d.v.sum((1, 2))
        return jax.lax.fori_loop(0, n_blocks, body, jnp.zeros(seeds))

    n = _calibrate(run, budget)
    return _best_rate(lambda: run(n), n * L * seeds, repeat)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short timings (rougher numbers)")
    p.add_argument("--repeat", type=int, default=3, help="timings per measurement (best kept)")
    p.add_argument("--out", help="write the results as JSON")
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"),
                   help="metarep precision (the NumPy loop is float64)")
    p.add_argument("--N", type=int, nargs="+", default=[1000, 10000], help="input dimensions")
    args = p.parse_args(argv)
    budget = 0.3 if args.quick else 1.0
    rows = []
    print(f"device: {jax.devices()[0]}, cores pinned: {sorted(os.sched_getaffinity(0))}, "
          f"metarep dtype: {args.dtype}")
    header = (f"{'N':>6} {'K=M':>3} {'support':>7} {'seeds':>5} | {'NumPy':>8} {'metarep':>9} "
              f"{'floor':>9} {'np floor':>9} | {'x NumPy':>7} {'floor/metarep':>13}")
    print(header + "\n" + "-" * len(header))
    for N in args.N:
        for KM in (2, 6):
            for support in ("inf", 10):
                cfg = Config(K=KM, M=KM, N=N, support=support, dtype=args.dtype)
                np_rate = numpy_loop_rate(cfg, budget)
                np_floor = numpy_floor_rate(cfg, budget)
                for seeds in (1, 8):
                    rate = metarep_rate(cfg, seeds, budget, args.repeat)
                    floor = jax_floor_rate(cfg, seeds, budget, args.repeat)
                    row = dict(N=N, KM=KM, support=support, seeds=seeds, numpy=np_rate,
                               metarep=rate, floor=floor, numpy_floor=np_floor,
                               speedup=rate / np_rate, floor_ratio=floor / rate)
                    rows.append(row)
                    print(f"{N:>6} {KM:>3} {str(support):>7} {seeds:>5} | {np_rate:>8.0f} "
                          f"{rate:>9.0f} {floor:>9.0f} {np_floor:>9.0f} | "
                          f"{rate / np_rate:>7.1f} {floor / rate:>13.2f}", flush=True)
    print("rates: seed-steps/s; 'x NumPy' = metarep/NumPy loop; 'floor/metarep' = how many "
          "times slower than drawing its random numbers alone (1 = at the floor)")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
