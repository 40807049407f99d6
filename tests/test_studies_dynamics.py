"""metarep.studies.dynamics: the times that show the phases and the per-seed deviations of
simulations from their ODEs (plateau level, final state)."""

import numpy as np
import pytest

from helpers import specializing_run
from metarep.analysis import Phases
from metarep.studies import dynamics as dyn


def test_phase_times_are_records_near_the_phase_midpoints():
    ph = Phases(escape=3.0, onset=8.0, specialized=13.0, eg_plateau=0.2)
    alpha = np.arange(0.0, 41.0, 2.0)
    np.testing.assert_array_equal(dyn.phase_times(ph, alpha), [0.0, 6.0, 10.0, 40.0])


def test_deviations_pair_each_seed_with_its_theory():
    """The simulation is the theory plus known offsets: the deviations are those offsets, on
    the plateau only for the seeds that are still on it in both."""
    theory = specializing_run(n_seeds=3)
    off = np.array([0.01, -0.02, 0.03])
    sim = theory.replace(eg=theory.eg + off[:, None],
                         R=theory.R + 0.1 * off[:, None, None, None])
    # the third seed of the simulation has left the plateau at α = 2: index 1 there
    s = sim.specialization()
    i = int(np.argmin(np.abs(sim.alpha - 2.0)))
    R = sim.R.copy()
    R[2, i] = np.eye(2)
    sim = sim.replace(R=R)
    assert theory.specialization()[:, i].max() < 0.1 and s[:2, i].max() < 0.1
    dev = dyn.deviations(sim, theory, plateau=2.0)
    np.testing.assert_allclose(dev["plateau_eg"][:2], off[:2])
    assert np.isnan(dev["plateau_eg"][2])
    np.testing.assert_allclose(dev["final_eg"], off)
    np.testing.assert_allclose(dev["R_0_1"], 0.1 * off)
    np.testing.assert_allclose(dev["Q_0_0"], 0.0)
    assert set(dev) == {"plateau_eg", "final_eg", "Q_0_0", "Q_0_1", "Q_1_1", "R_0_0", "R_0_1",
                        "R_1_0", "R_1_1", "a_0", "a_1"}
    with pytest.raises(ValueError, match="recorded at the simulation's times"):
        dyn.deviations(sim.replace(alpha=sim.alpha + 0.1), theory, plateau=2.0)
