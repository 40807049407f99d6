r"""The activation g(z) = erf(z/√2) and its derivative g'(z) = √(2/π) e^{−z²/2}.

Both are jittable and elementwise. With this choice every Gaussian average of products of g
and g' has a closed form (:mod:`metarep.integrals`).
"""

import jax.numpy as jnp
from jax.scipy.special import erf


def g(z):
    """g(z) = erf(z/√2), the hidden-unit activation of teachers and students."""
    return erf(z / jnp.sqrt(2.0))


def g_prime(z):
    """g'(z) = √(2/π) exp(−z²/2)."""
    return jnp.sqrt(2.0 / jnp.pi) * jnp.exp(-0.5 * z**2)
