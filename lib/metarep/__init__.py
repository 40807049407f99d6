"""metarep: theory and simulation of online meta-learning in the teacher-student scenario.

Companion to Wang, Yip & Li, *Dynamics of Meta-learning Representation in the
Teacher-student Scenario* (arXiv:2408.12545). The theory runs in float64.
"""

import jax

jax.config.update("jax_enable_x64", True)

from metarep.config import Config  # noqa: E402
from metarep.errors import ConfigError, DivergenceError  # noqa: E402

__all__ = ["Config", "ConfigError", "DivergenceError"]
__version__ = "0.1.0"
