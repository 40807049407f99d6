"""Exceptions raised by metarep: bad configuration and diverging runs."""


class ConfigError(ValueError):
    """An invalid configuration: the message names the key and its allowed range."""


class DivergenceError(RuntimeError):
    """A run (ODE or simulation) produced NaN/inf; the message names the likely cause."""
