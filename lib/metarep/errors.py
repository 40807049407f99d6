"""Exceptions raised by metarep: bad configuration, diverging runs, inaccurate integration,
interrupted runs."""


class ConfigError(ValueError):
    """An invalid configuration: the message names the key and its allowed range."""


class DivergenceError(RuntimeError):
    """A run (ODE or simulation) blew up; the message names the likely cause."""


class AccuracyError(RuntimeError):
    """The ODE integration error exceeds its tolerance; the message names the step dt."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C: ``partial`` holds the records completed so far (a
    :class:`~metarep.trajectory.Trajectory`), ``planned`` the number of records asked for.

    It is a KeyboardInterrupt, so that a script that does not catch it stops as before.
    """

    def __init__(self, partial, planned: int):
        super().__init__(f"interrupted after {len(partial.alpha)} of {planned} records")
        self.partial = partial
        self.planned = planned
