"""The persistent compilation caches (metarep.compile_cache), in fresh processes.

* A second process reuses what the first compiled: JAX's cache answers every compilation
  (hits, no misses) and the simulator's entry points are loaded whole (none compiled), with
  bit-identical results, no warning and none of XLA:CPU's false "machine type" reports.
* A damaged entry is compiled again and replaced; the results stay the same.
* An unusable cache folder (a file in the way) gives one warning and a working process;
  ``METAREP_CACHE=off`` uses no folder at all.
* The folder is keyed on jax, jaxlib, the CPU and the XLA flags.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metarep import compile_cache

SCRIPT = r"""
import json, warnings
warnings.simplefilter("default")
import numpy as np
from metarep import compile_cache
from metarep.config import Config
from metarep.simulator import simulate
cfg = Config(K=2, M=2, N=40, alpha_max=0.5, record_every=0.25, first_order=True)
mc = simulate(cfg, 2, progress=False, eg_tasks=50, eg_test=5)
cf = simulate(cfg, 2, progress=False, eg_method="closed_form")
print(json.dumps({"stats": compile_cache.stats(),
                  "Q": mc.Q.tolist(), "eg_mc": mc.eg.tolist(), "eg_cf": cf.eg.tolist()}))
"""


def _run(env_extra: dict, script: str = SCRIPT):
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAREP_CACHE")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)          # as in a fresh shell
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


@pytest.mark.slow
def test_second_process_hits_the_cache(tmp_path):
    env = {"METAREP_CACHE_DIR": str(tmp_path)}
    first, _ = _run(env)
    assert first["stats"]["folder"].startswith(str(tmp_path))
    assert first["stats"]["written"] >= 4 and first["stats"]["loaded"] == 0

    second, err = _run(env)
    s = second["stats"]
    assert s["compiled"] == 0 and s["loaded"] >= 4, s
    assert s["jax_misses"] == 0 and s["jax_hits"] > 0, s
    assert "cpu_aot_loader" not in err and "Warning" not in err, err[-2000:]
    for key in ("Q", "eg_mc", "eg_cf"):
        assert second[key] == first[key], key

    # damaged entries: compiled again, replaced, same numbers
    entries = list(Path(first["stats"]["folder"]).glob("executables/*/*.pkl"))
    assert len(entries) >= 4
    for entry in entries:
        entry.write_bytes(b"not an executable")
    third, _ = _run(env)
    assert third["stats"]["compiled"] >= 4 and third["stats"]["written"] >= 4
    assert third["eg_mc"] == first["eg_mc"] and third["Q"] == first["Q"]
    fourth, _ = _run(env)
    assert fourth["stats"]["compiled"] == 0


TINY = r"""
import json
import jax.numpy as jnp
from metarep import compile_cache
from metarep.simulator import simulate
from metarep.config import Config
simulate(Config(N=20, alpha_max=0.1, record_every=0.1), 1, progress=False, eg_tasks=0)
print(json.dumps({"stats": compile_cache.stats()}))
"""


def test_unusable_folder_falls_back_with_one_warning(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    result, err = _run({"METAREP_CACHE_DIR": str(blocker)}, TINY)
    assert result["stats"]["folder"] is None
    assert err.count("metarep: the compilation cache folder") == 1, err[-2000:]
    assert err.count("Warning") == 1, err[-2000:]


def test_opt_out_uses_no_folder(tmp_path):
    result, err = _run({"METAREP_CACHE_DIR": str(tmp_path / "c"), "METAREP_CACHE": "off"},
                       TINY)
    assert result["stats"]["folder"] is None and not (tmp_path / "c").exists()
    assert "Warning" not in err


def test_folder_is_keyed_on_versions_cpu_and_flags(monkeypatch, tmp_path):
    import jax
    import jaxlib

    monkeypatch.setenv("METAREP_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    plain = compile_cache.folder()
    assert plain.parent == tmp_path
    assert plain.name.startswith(f"jax-{jax.__version__}-jaxlib-{jaxlib.__version__}-")
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    assert compile_cache.folder() != plain
    monkeypatch.delenv("XLA_FLAGS")
    monkeypatch.setattr(compile_cache, "cpu_description", lambda: "model name=another CPU")
    assert compile_cache.folder() != plain


def test_cpu_description_names_model_and_flags():
    text = compile_cache.cpu_description()
    assert text
    if os.path.exists("/proc/cpuinfo") and "flags" in open("/proc/cpuinfo").read():
        assert "flags=" in text and "model name=" in text


def test_executables_of_old_sources_are_pruned(monkeypatch, tmp_path):
    monkeypatch.setattr(compile_cache._State, "folder", tmp_path)
    monkeypatch.setattr(compile_cache._State, "pruned", False)
    base = tmp_path / "executables"
    for i, name in enumerate(["old0", "old1", "old2", "old3"]):
        (base / name).mkdir(parents=True)
        os.utime(base / name, (1000 + i, 1000 + i))
    current = compile_cache._executables()
    assert current.name == compile_cache.source_digest()[:16]
    kept = sorted(p.name for p in base.iterdir())
    assert kept == sorted([current.name, "old2", "old3"])


def test_release_drops_the_executables_a_process_holds():
    """compile_cache.release() empties the in-memory executables of persistent_jit functions
    (and JAX's caches); the next call still computes the same result."""
    import jax.numpy as jnp

    @compile_cache.persistent_jit
    def twice(x):
        return 2.0 * x

    assert float(twice(jnp.float64(1.5))) == 3.0 and len(twice._memory) == 1
    compile_cache.release()
    assert not twice._memory
    assert float(twice(jnp.float64(1.5))) == 3.0
