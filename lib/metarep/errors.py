"""Exceptions raised by metarep: bad configuration, diverging runs, inaccurate integration."""


class ConfigError(ValueError):
    """An invalid configuration: the message names the key and its allowed range."""


class DivergenceError(RuntimeError):
    """A run (ODE or simulation) blew up; the message names the likely cause."""


class AccuracyError(RuntimeError):
    """The ODE integration error exceeds its tolerance; the message names the step dt."""
