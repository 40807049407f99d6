"""Whole processes: ``python -m metarep sim`` against a NumPy loop, as a user pays for them.

The compiled-loop benchmark (``bench_sim.py``) times steps inside one warm process; a user
also pays for starting Python, importing JAX, tracing, lowering and compiling (or loading
from the persistent compilation cache) and the meta-test error at every record. This script
times whole processes, N = 1000, K = M = 2, first order, population inner loop, σ_B = 0,
head initialisation fixed (eta_head = 0), one seed, records every α = 1 (every N steps):

* ``metarep cold``: ``python -m metarep sim ... --out F.csv`` with an empty cache folder
  (``METAREP_CACHE_DIR`` = a fresh temporary folder): everything traced and compiled;
* ``metarep warm``: the same command again (executables loaded from the cache);
* ``metarep off``: ``METAREP_CACHE=off`` (no persistent cache: what every process paid
  before the cache existed);
* ``NumPy``: ``python benchmarks/numpy_process.py``, the hoisted first-order NumPy loop
  (``numpy_reference.run_first_order``, 15-25k steps/s here) started as its own process,
  recording Q, R, a every N steps into a CSV (it computes no meta-test error: it does
  less than metarep).

both for the Monte-Carlo meta-test error at every record (``--eg-method mc``, the default)
and for its closed form (``--eg-method closed-form``). Each measurement is repeated
``--repeat`` times, interleaved, and the median is reported; the machine may be shared, so
compare the ratios. ``--phases`` also splits a cold and a warm process into its phases
(interpreter and imports, initial state, training steps, records, writing the table).

    .venv/bin/python benchmarks/bench_process.py [--steps 1000 100000 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
N = 1000
KEYS = ["K=2", "M=2", f"N={N}", "first_order=true", "eta_head=0", "support=\"inf\"",
        "teacher_spread=0", "record_every=1", "seed=0"]


def _run(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return dt


def metarep_cmd(steps: int, eg: str, out: Path) -> list[str]:
    sets = [x for k in KEYS + [f"alpha_max={steps / N:g}"] for x in ("--set", k)]
    return [sys.executable, "-m", "metarep", "sim", *sets, "--quiet", "--eg-method", eg,
            "--out", str(out), "--force"]


def numpy_cmd(steps: int, out: Path) -> list[str]:
    return [sys.executable, str(HERE / "numpy_process.py"), "--steps", str(steps),
            "--N", str(N), "--out", str(out)]


PHASES = r"""
import time, sys
t = [time.perf_counter()]
import metarep.cli, metarep.simulator as sim
from metarep.config import Config
from metarep.initial import initial_weights
t.append(time.perf_counter())
cfg = Config(K=2, M=2, N=1000, first_order=True, eta_head=0.0, alpha_max=1.0)
B, W, a = (x[None] for x in initial_weights(cfg))
train, ev = (k[None] for k in sim.run_keys(0))
t.append(time.perf_counter())
W, a = sim.advance(cfg, W, a, B, train, 0, 1000); W.block_until_ready()
t.append(time.perf_counter())
tr = sim.simulate(cfg, 1, progress=False, eg_method=sys.argv[1])
t.append(time.perf_counter())
tr.to_csv(sys.argv[2])
t.append(time.perf_counter())
names = ["imports", "initial state", "1000 steps (first call)", "simulate (2 records)",
         "write table"]
print(dict(zip(names, [round(b - a, 3) for a, b in zip(t, t[1:])])))
"""


def phases(eg: str, env: dict, out: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", PHASES, eg.replace("-", "_"), str(out)],
                         env=env, capture_output=True, text=True)
    total = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return total, res.stdout.strip()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, nargs="+", default=[1000, 100_000, 1_000_000])
    p.add_argument("--repeat", type=int, default=3, help="repetitions (median reported)")
    p.add_argument("--eg", nargs="+", default=["mc", "closed-form"],
                   choices=["mc", "closed-form"])
    p.add_argument("--phases", action="store_true", help="also split processes into phases")
    p.add_argument("--out", help="write the results as JSON")
    args = p.parse_args(argv)

    base = {k: v for k, v in os.environ.items() if not k.startswith("METAREP_CACHE")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "out.csv"
        reference = {"python -c pass": [sys.executable, "-c", "pass"],
                     "python -c 'import jax'": [sys.executable, "-c", "import jax"]}
        ref_times = {name: statistics.median(_run(cmd, base) for _ in range(args.repeat))
                     for name, cmd in reference.items()}
        for name, t in ref_times.items():
            print(f"{name}: {t:.2f} s")
        print(f"{'steps':>8} {'eg':>11} | {'cold':>7} {'warm':>7} {'off':>7} {'NumPy':>7} | "
              f"{'NumPy/warm':>10} {'NumPy/cold':>10}")
        for steps in args.steps:
            for eg in args.eg:
                times = {"cold": [], "warm": [], "off": [], "numpy": []}
                for r in range(args.repeat):
                    cache = tmp / f"cache-{steps}-{eg}-{r}"
                    env = {**base, "METAREP_CACHE_DIR": str(cache)}
                    times["cold"].append(_run(metarep_cmd(steps, eg, csv), env))
                    times["warm"].append(_run(metarep_cmd(steps, eg, csv), env))
                    times["off"].append(_run(metarep_cmd(steps, eg, csv),
                                             {**base, "METAREP_CACHE": "off"}))
                    times["numpy"].append(_run(numpy_cmd(steps, csv), base))
                med = {k: statistics.median(v) for k, v in times.items()}
                row = dict(steps=steps, eg=eg, **med, repeat=args.repeat,
                           speedup_warm=med["numpy"] / med["warm"],
                           speedup_cold=med["numpy"] / med["cold"])
                rows.append(row)
                print(f"{steps:>8} {eg:>11} | {med['cold']:>7.2f} {med['warm']:>7.2f} "
                      f"{med['off']:>7.2f} {med['numpy']:>7.2f} | "
                      f"{row['speedup_warm']:>10.2f} {row['speedup_cold']:>10.2f}", flush=True)
        if args.phases:
            for eg in args.eg:
                cache = tmp / f"phases-{eg}"
                env = {**base, "METAREP_CACHE_DIR": str(cache)}
                for label in ("cold", "warm"):
                    total, split = phases(eg, env, csv)
                    print(f"phases, {eg}, {label} ({total:.2f} s in all): {split}")
                total, split = phases(eg, {**base, "METAREP_CACHE": "off"}, csv)
                print(f"phases, {eg}, cache off ({total:.2f} s in all): {split}")
    print("seconds per whole process, medians; NumPy/warm > 1: metarep is faster")
    if args.out:
        Path(args.out).write_text(json.dumps(dict(reference=ref_times, rows=rows), indent=1))


if __name__ == "__main__":
    main()
