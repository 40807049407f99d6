"""The memory estimate that the command line checks before computing."""

import resource

import pytest

from metarep import footprint
from metarep.config import Config
from metarep.errors import ConfigError

BASIC = Config(K=2, M=2, N=1000, alpha_max=150.0, record_every=1.0)


@pytest.mark.parametrize("estimate, measured", [
    # peak resident memory of whole `python -m metarep` processes (review of the command line,
    # 2-core machine): the README's ode, the README's sim (8 seeds, --compare-ode), and the
    # example's 4 seeds up to α = 40
    (lambda: footprint.ode_footprint(BASIC, csv=True), 462e6),
    (lambda: footprint.sim_footprint(BASIC, 8, compare_ode=True, csv=True), 564e6),
    (lambda: footprint.sim_footprint(BASIC.replace(alpha_max=40.0), 4, compare_ode=True,
                                     csv=True), 633e6),
    # peak resident memory of ode.integrate with a finite support (K = M = 2, α_max = 0.2)
    (lambda: footprint.ode_footprint(BASIC.replace(support=80_000, alpha_max=0.2,
                                                   record_every=0.1)), 2.97e9),
])
def test_estimate_within_a_factor_two_of_measured_peaks(estimate, measured):
    assert 0.5 < estimate().total / measured < 2.0


def test_terms_grow_with_their_keys():
    """The term that dominates names the key that controls it."""
    big_k = footprint.ode_footprint(Config(K=1000))
    assert big_k.total > 1e14 and big_k.largest.advice == "reduce K"
    records = footprint.ode_footprint(Config(alpha_max=1e7, record_every=1.0))
    # XLA asked for one block of 6.9 GB for these 10⁷ records (review, case 86)
    assert records.largest.advice.startswith("increase record_every") and records.total > 6.9e9
    wide = footprint.sim_footprint(Config(N=10**9), seeds=1)
    assert wide.total > 1e11 and wide.largest.advice == "reduce N or --seeds"
    explicit = Config(N=10**9, Q0=[[1.0, 0.0], [0.0, 1.0]], R0=[[0.0, 0.0], [0.0, 0.0]])
    assert footprint.ode_footprint(explicit).total < 1e9        # no N-dimensional weights
    one, eight = (footprint.sim_footprint(BASIC.replace(N=10**6), s).total for s in (1, 8))
    assert eight > 4 * one
    assert footprint.sim_footprint(BASIC, 8, compare_ode=True).total > \
        footprint.sim_footprint(BASIC, 8).total
    shots = footprint.ode_footprint(Config(support=10**8))
    assert shots.total > 1e12 and shots.largest.advice == "reduce support"


def test_check_names_the_limit_and_the_key():
    small = footprint.ode_footprint(BASIC)
    footprint.check(small, "ode", limit=(4e9, "a 4 GB machine"))
    with pytest.raises(ConfigError, match=r"^ode would need about [\d.]+ GB of memory, more than "
                                          r"a 1 GB machine \(1 GB\); most of it for the ODE's "
                                          "noise term .*: reduce K$"):
        footprint.check(footprint.ode_footprint(Config(K=30, M=30)), "ode",
                        limit=(1e9, "a 1 GB machine"))


def test_memory_limit_honours_ulimit(monkeypatch):
    monkeypatch.setattr(resource, "getrlimit", lambda which: (2**33, resource.RLIM_INFINITY))
    limit, where = footprint.memory_limit()
    assert limit <= 2**33
    if limit == 2**33:
        assert "ulimit -v" in where


def test_memory_limit_without_posix_resource_limits(monkeypatch):
    """On a platform without the ``resource`` module or ``os.sysconf`` (Windows) the limit
    falls back to the remaining sources instead of failing at import or call."""
    monkeypatch.setattr(footprint, "resource", None)
    monkeypatch.delattr(footprint.os, "sysconf")
    avail, where = footprint.memory_limit()
    assert avail > 0 and isinstance(where, str)
