"""metarep: theory and simulation of online meta-learning in the teacher-student scenario.

Companion to Wang, Yip & Li, *Dynamics of Meta-learning Representation in the
Teacher-student Scenario* (arXiv:2408.12545). The theory runs in float64.

Importing metarep enables float64 in JAX (``jax_enable_x64``), sets the default matrix
product precision to "highest", so that float32 products are float32 on every device
(GPUs otherwise use TF32, with a 10-bit mantissa, for float32 matrix products), and turns on
the persistent compilation caches of :mod:`metarep.compile_cache` (``METAREP_CACHE=off``
turns them off).
"""

import os
import sys

from metarep import compile_cache

if compile_cache.enabled_by_environment() and "jax" not in sys.modules:
    # XLA:CPU's false "machine type doesn't match" report on every cache load (see
    # metarep.compile_cache); read by jaxlib once, when it is imported
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_default_matmul_precision", "highest")
compile_cache.enable()

from metarep.config import Config  # noqa: E402
from metarep.errors import AccuracyError, ConfigError, DivergenceError  # noqa: E402

__all__ = ["Config", "ConfigError", "DivergenceError", "AccuracyError"]
__version__ = "0.1.0"
