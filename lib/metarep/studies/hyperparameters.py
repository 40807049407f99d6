r"""Hyper-parameters of meta-training (book chapter "Hyper-parameters").

How the inner rate η_in, the number of inner steps S, the outer rate η (and the query batch
b of its noise term) and the choice between the full and the first-order meta-gradient decide
whether, and how fast, the meta-learner specializes. Everything is computed from the ODE of
:mod:`metarep.ode`, integrated over grids of hyper-parameters by :func:`metarep.sweep.sweeps`
(:func:`rate_grids`), and checked against the simulator at a few points.

Derived quantities of a run (functions of the recorded order parameters):

* the **time to specialize** t_spec (:func:`metarep.analysis.specialization_time`: the
  specialization index reaches 1/2, interpolated; ∞ if it never does) and the
  **time-averaged error** (:func:`time_average`);
* the **inner stiffness** η_in λ_max(C), C = I2(Q) (:func:`metarep.observables.inner_stiffness`:
  the population inner loop is stable iff it is < 2, book equation ``eq-inner-stability``;
  the first-order head update is stable for odd S iff it is < 1, ``eq-fo-head``);
* the mean norm (1/K) Σ_k Q_kk.

Beyond single runs:

* the exact spectral form of the error of adaptation at a fixed state
  (:func:`adaptation_spectrum`, ``eq-adaptation-spectrum``);
* the **plateau** and its escape rate λ at every point of a grid (:func:`plateau_map`, on
  :func:`metarep.linear.symmetric_plateaus`), the noise boundary u_c of η/b beyond which no
  plateau exists at finite norms (:func:`noise_boundary`);
* **protocols** — a constant η and an inner-rate schedule η_in(α) — optimised by
  forward-mode differentiation through the ODE (:func:`mean_error`,
  :func:`optimise_protocol`) and simulated (:func:`simulate_protocol`);
* simulations at grid points with the closed-form error of each state
  (:func:`simulate_points`, :func:`state_errors`) and the finite-N allowance measured from two
  sizes (:func:`size_bias_bound`).

Figures: :func:`plot_inner_stability`, :func:`plot_inner_rate`, :func:`plot_outer_rate`,
:func:`plot_first_order`, :func:`plot_phase_diagram`, :func:`plot_escape_rate`,
:func:`plot_protocols`.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from metarep import drift, linear, metaloss, observables, ode
from metarep.analysis import seed_stats, specialization_time
from metarep.plotting import (ALPHA_LABEL, EG_FINAL_LABEL, ETA_IN_LABEL, ETA_LABEL, STIFF_LABEL,
                              TSPEC_LABEL, draw_sim, style)
from metarep.ode import ACCURACY_TOLERANCE
from metarep.sweep import grid_hypers, sweeps
from metarep.trajectory import Trajectory


def _stiffness(Q, eta_in) -> np.ndarray:
    """:func:`metarep.observables.inner_stiffness` of recorded states, as a NumPy array."""
    return np.asarray(observables.inner_stiffness(jnp.asarray(Q), jnp.asarray(eta_in)))


# -- grids of ODE runs -------------------------------------------------------------------------

@dataclass(frozen=True)
class RateGrid:
    """ODE runs on the outer-product grid of some hyper-parameters, with derived quantities.

    names: swept keys (e.g. ("eta", "eta_in")); values: one 1-d array per key; label: legend
    text; alpha (n,). With G the lengths of the axes: eg, specialization, stiffness
    (η_in λ_max(C)) and norm (mean Q_kk) of shape (G, n), NaN from a run's first diverged
    record on; diverged (G,) bool; the final state at α_max, Q (G, K, K), R (G, K, M),
    a (G, K).
    """

    names: tuple
    values: tuple
    label: str
    alpha: np.ndarray
    eg: np.ndarray
    specialization: np.ndarray
    stiffness: np.ndarray
    norm: np.ndarray
    diverged: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    a: np.ndarray
    error: np.ndarray | None = None
    plateau: np.ndarray | None = None

    @property
    def final_error(self) -> np.ndarray:
        """Meta-test error at α_max (NaN for diverged runs), shape (G,)."""
        return self.eg[..., -1]

    @property
    def t_spec(self) -> np.ndarray:
        """Time to specialize (:func:`metarep.analysis.specialization_time`; ∞ if not by
        α_max), shape (G,)."""
        return specialization_time(self.alpha, self.specialization)

    @property
    def mean_error(self) -> np.ndarray:
        """Time average of the meta-test error over the records, (1/α_max) ∫ ε_g dα by the
        trapezoid rule (:func:`time_average`), shape (G,); NaN for diverged runs."""
        return time_average(self.alpha, self.eg)

    @property
    def accurate(self) -> np.ndarray:
        """The runs whose estimated integration error is within
        :data:`metarep.ode.ACCURACY_TOLERANCE` (all when no estimate was made), (G,)."""
        if self.error is None:
            return np.ones(self.diverged.shape, dtype=bool)
        return ~(self.error > ACCURACY_TOLERANCE)

    def table(self) -> dict:
        """One row per grid point (C order): the swept keys, then ``final_error``,
        ``mean_error`` (time average), ``t_spec`` (inf: not specialized), ``diverged`` (0/1),
        the final ``stiffness`` and ``norm``, and ``integration_error`` (NaN without an
        estimate); columns for :func:`metarep.downloads.write_csv`."""
        mesh = np.meshgrid(*self.values, indexing="ij")
        cols = {name: m.ravel() for name, m in zip(self.names, mesh)}
        error = (np.full(self.diverged.shape, np.nan) if self.error is None else self.error)
        cols.update(final_error=self.final_error.ravel(), mean_error=self.mean_error.ravel(),
                    t_spec=self.t_spec.ravel(), diverged=self.diverged.ravel().astype(int),
                    stiffness=self.stiffness[..., -1].ravel(), norm=self.norm[..., -1].ravel(),
                    integration_error=np.ravel(error))
        return cols

    def axis(self, name: str) -> np.ndarray:
        """The values of the swept key ``name``."""
        return self.values[self.names.index(name)]

    def labelled(self, label: str) -> "RateGrid":
        """The same runs with the legend text ``label``."""
        return dataclasses.replace(self, label=label)

    def line(self, **fixed: float) -> "RateGrid":
        """The sub-grid with some keys fixed at grid values (e.g. ``line(eta=1.0)``)."""
        index: list = [slice(None)] * len(self.names)
        names, values = list(self.names), list(self.values)
        for key, value in fixed.items():
            axis = self.names.index(key)
            hit = np.flatnonzero(np.isclose(self.values[axis], value, rtol=1e-9, atol=0))
            if hit.size != 1:
                raise ValueError(f"{key} = {value} is not a value of the grid: "
                                 f"{self.values[axis]}")
            index[axis] = int(hit[0])
        keep = [i for i, ix in enumerate(index) if isinstance(ix, slice)]
        ix = tuple(index)
        return RateGrid(tuple(names[i] for i in keep), tuple(values[i] for i in keep),
                        self.label, self.alpha, self.eg[ix], self.specialization[ix],
                        self.stiffness[ix], self.norm[ix], self.diverged[ix], self.Q[ix],
                        self.R[ix], self.a[ix], None if self.error is None else self.error[ix],
                        None if self.plateau is None else self.plateau[ix])


def time_average(alpha, eg) -> np.ndarray:
    """(1/(α_n − α_0)) ∫ ε_g dα over the records alpha (n,) of eg (..., n), trapezoid rule."""
    alpha, eg = np.asarray(alpha, dtype=float), np.asarray(eg, dtype=float)
    widths = np.diff(alpha)
    return np.sum(0.5 * (eg[..., 1:] + eg[..., :-1]) * widths, axis=-1) / (alpha[-1] - alpha[0])


def _rate_grid(cfg, res, label: str) -> RateGrid:
    """The :class:`RateGrid` of a :class:`metarep.sweep.SweepResult`."""
    names = tuple(res.names)
    if "eta_in" in names:
        mesh = np.meshgrid(*res.values, indexing="ij")[names.index("eta_in")]
        eta_in = mesh[..., None]
    else:
        eta_in = cfg.eta_in
    stiff = _stiffness(res.Q, eta_in)
    norm = np.mean(np.diagonal(res.Q, axis1=-2, axis2=-1), axis=-1)
    spec = res.observables["specialization"]
    t = specialization_time(res.alpha, spec)
    # each run's plateau state: the record at half its time to specialize, or the last one
    rec = np.where(np.isfinite(t), np.searchsorted(res.alpha, 0.5 * np.nan_to_num(t)),
                   len(res.alpha) - 1).ravel()
    flat = [x.reshape((len(rec),) + x.shape[len(t.shape):]) for x in (res.Q, res.R, res.a)]
    at_rec = [x[np.arange(len(rec)), rec] for x in flat]
    plateau = np.asarray(linear.symmetric_coordinates(at_rec, cfg.eta_head > 0))
    plateau = plateau.reshape(t.shape + plateau.shape[-1:])
    return RateGrid(names, tuple(np.asarray(v) for v in res.values), label,
                    np.asarray(res.alpha), res.eg, spec, stiff, norm,
                    res.diverged.any(axis=-1), res.Q[..., -1, :, :], res.R[..., -1, :, :],
                    res.a[..., -1, :], res.error, plateau)


def rate_grids(cfg, grids: dict, alphas=None, chunk: int = 1024) -> dict:
    """Integrate the ODE of ``cfg`` over several outer-product grids ({label: {key: values}},
    keys of :data:`metarep.sweep.SWEEPABLE`) in one batch (:func:`metarep.sweep.sweeps`: one
    compilation for all) and derive the quantities of :class:`RateGrid`: {label: RateGrid}.
    Runs whose integration is not accurate are kept (``RateGrid.accurate`` flags them)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="the ODE integration", category=UserWarning)
        results = sweeps(cfg, list(grids.values()), alphas, chunk=chunk)
    return {label: _rate_grid(cfg, res, label) for label, res in zip(grids, results)}


def rate_grid(cfg, grid: dict, label: str = "", alphas=None) -> RateGrid:
    """:func:`rate_grids` of one grid."""
    return rate_grids(cfg, {label: grid}, alphas)[label]


def outer_rate_column(cfg, etas, batch: int, label: str = "", chunk: int = 1024) -> RateGrid:
    """The runs of ``cfg`` at the outer rates ``etas`` with query batch ``batch`` (a 1-d
    :class:`RateGrid` over ``eta``), integrated with the step cfg.dt·min(1, η_ref/max(η)),
    η_ref = 8: the Jacobian of the ODE grows like η, and RK4 needs η·dt bounded (the step
    is an argument of the compiled program, so this call shares the program of the
    configuration's other runs when the chunk sizes agree)."""
    etas = np.asarray(etas, dtype=float)
    dt = cfg.dt * min(1.0, _ETA_REF / etas.max())
    grid = rate_grids(cfg.replace(dt=dt), {label: {"eta": etas, "query_batch": [batch]}},
                      chunk=chunk)[label]
    return grid.line(query_batch=batch)


#: The largest outer rate integrated with the configuration's own step (see
#: :func:`outer_rate_column`).
_ETA_REF = 8.0


def concatenate_lines(*lines: RateGrid) -> RateGrid:
    """1-d grids over the same key with the same record times joined into one, sorted by
    the key's values (the first grid's label)."""
    names = {ln.names for ln in lines}
    if len(names) != 1 or len(next(iter(names))) != 1:
        raise ValueError(f"concatenate_lines needs 1-d grids over one key, got {names}")
    if any(not np.allclose(ln.alpha, lines[0].alpha) for ln in lines):
        raise ValueError("concatenate_lines needs grids recorded at the same times")
    x = np.concatenate([ln.values[0] for ln in lines])
    order = np.argsort(x)
    fields = {}
    for f in dataclasses.fields(RateGrid):
        if f.name in ("names", "values", "label", "alpha"):
            continue
        parts = [getattr(ln, f.name) for ln in lines]
        fields[f.name] = (None if any(p is None for p in parts)
                          else np.concatenate(parts)[order])
    return RateGrid(lines[0].names, (x[order],), lines[0].label, lines[0].alpha, **fields)


def outer_rate_max(line: RateGrid) -> float:
    """The largest η of a 1-d η grid whose run specializes by α_max (t_spec finite).

    Resolution: the grid spacing (the next larger η of the grid does not specialize). NaN if
    no run specializes.
    """
    if line.names != ("eta",):
        raise ValueError(f"outer_rate_max needs a 1-d grid over eta, got {line.names}")
    ok = np.isfinite(line.t_spec)
    return float(line.values[0][ok].max()) if ok.any() else float("nan")


def error_vs_inner_rate(Q, R, a, dist, eta_ins, steps) -> np.ndarray:
    """Meta-test error F (``eq-metaloss``) at the fixed state (Q, R, a) for every inner rate
    of ``eta_ins`` (n,) and every number of inner steps of ``steps`` (s,); shape (s, n)."""
    Q, R, a = (jnp.asarray(x, dtype=jnp.float64) for x in (Q, R, a))
    rates = jnp.asarray(eta_ins, dtype=jnp.float64)
    return np.stack([np.asarray(jax.vmap(
        lambda e, S=int(S): metaloss.meta_test_error(Q, R, a, dist, e, S))(rates))
        for S in steps])


def adaptation_spectrum(Q, R, a, dist) -> tuple[np.ndarray, np.ndarray, float]:
    r"""(λ (K,), c (K,), F_oracle): the exact decomposition of the meta-test error at a fixed
    state (Q, R, a) after S inner steps of rate η_in (``eq-adaptation-spectrum``),

        F(η_in, S) = F_oracle + Σ_i c_i (1 − η_in λ_i)^{2S},

    λ_i the eigenvalues of C = I2(Q) (ascending, eigenvectors u_i) and
    c_i = ½ λ_i u_iᵀ Σ u_i ≥ 0 with Σ = ⟨(a − a*)(a − a*)ᵀ⟩_v
    = (a − C⁻¹D v̄)(a − C⁻¹D v̄)ᵀ + σ_v² C⁻¹DDᵀC⁻¹, a* = C⁻¹D v the best head of task v:
    each inner step multiplies a − a* by I − η_in C, and the excess error of a head is
    ½ (a − a*)ᵀ C (a − a*). F_oracle is :func:`metarep.metaloss.oracle_error`."""
    Q, R, a = (jnp.asarray(x, dtype=jnp.float64) for x in (Q, R, a))
    b = metaloss.blocks(Q, R, dist)
    C, D = np.asarray(b.C), np.asarray(b.D)
    lam, U = np.linalg.eigh(0.5 * (C + C.T))
    G = np.linalg.solve(C, D)
    d = np.asarray(a) - G @ np.asarray(dist.v_bar)
    Sigma = np.outer(d, d) + float(dist.v_std) ** 2 * G @ G.T
    c = 0.5 * lam * np.einsum("ki,kl,li->i", U, Sigma, U)
    return lam, c, float(metaloss.oracle_error(Q, R, dist))


def inner_rate_bound(Q) -> float:
    """2/λ_max(C) at Q (K, K): the largest stable inner rate (``eq-inner-stability``)."""
    return float(2.0 / _stiffness(Q, 1.0))


# -- the plateau and its escape rate over a grid -----------------------------------------------

@dataclass(frozen=True)
class PlateauMap:
    """The fully symmetric plateau (:func:`metarep.linear.symmetric_plateaus`) at every point
    of a grid of hyper-parameters.

    names, values: the grid axes (as in :class:`RateGrid`); rate: the escape rate λ of the
    specialization mode δR ∝ I − 11ᵀ/M there (:func:`metarep.linear.specialization_rate`;
    NaN where no plateau was found); norm: its Q_kk; found (bool): a plateau at finite
    norms was found, continuing the branch of the base row (see :func:`plateau_map`);
    y (…, n): its coordinates (q, c, r, a); stable: every mode inside the fully symmetric
    subspace decays there (the reduced Jacobian's eigenvalues have negative real parts).
    """

    names: tuple
    values: tuple
    rate: np.ndarray
    norm: np.ndarray
    found: np.ndarray
    y: np.ndarray
    stable: np.ndarray

    def line(self, **fixed: float) -> "PlateauMap":
        """The sub-map with some axes fixed at grid values (as :meth:`RateGrid.line`)."""
        index: list = [slice(None)] * len(self.names)
        for key, value in fixed.items():
            axis = self.names.index(key)
            hit = np.flatnonzero(np.isclose(self.values[axis], value, rtol=1e-9, atol=0))
            if hit.size != 1:
                raise ValueError(f"{key} = {value} is not a value of the grid")
            index[axis] = int(hit[0])
        keep = [i for i, ix in enumerate(index) if isinstance(ix, slice)]
        ix = tuple(index)
        return PlateauMap(tuple(self.names[i] for i in keep),
                          tuple(self.values[i] for i in keep), self.rate[ix], self.norm[ix],
                          self.found[ix], self.y[ix], self.stable[ix])


#: Lanes of the vmapped plateau solver (one compiled program for every call of the chapter).
PLATEAU_LANES = 16


def plateau_points(cfg, points: dict, guesses, pseudo_time: float = 10.0,
                   max_iter: int = 60):
    """:func:`metarep.linear.symmetric_plateaus` at the points ``points`` ({key: (G,)
    values}, keys of :data:`metarep.sweep.SWEEPABLE`) from ``guesses`` (G, n), in batches of
    :data:`PLATEAU_LANES` (the last one padded): (found (G,), y (G, n), rate (G,), stable
    (G,))."""
    G = len(next(iter(points.values())))
    guesses = np.broadcast_to(np.asarray(guesses, dtype=float), (G, np.shape(guesses)[-1]))
    out = []
    for start in range(0, G, PLATEAU_LANES):
        idx = np.minimum(np.arange(start, start + PLATEAU_LANES), G - 1)
        hps = grid_hypers(cfg, {k: np.asarray(v, dtype=float)[idx] for k, v in points.items()})
        sol = linear.symmetric_plateaus(cfg, hps, guesses[idx], pseudo_time=pseudo_time,
                                        max_iter=max_iter)
        n = min(PLATEAU_LANES, G - start)
        finite = np.all(np.isfinite(sol.jac), axis=(-2, -1))
        jac = np.where(finite[:, None, None], sol.jac, 0.0)
        stable = finite & np.all(np.linalg.eigvals(jac).real < 0, axis=-1)
        out.append((sol.found[:n], sol.y[:n], sol.rate[:n], stable[:n] & sol.found[:n]))
    return tuple(np.concatenate(x) for x in zip(*out))


def plateau_map(cfg, grid: RateGrid) -> PlateauMap:
    """The plateau map of the 2-d (eta, eta_in) ``grid``, continued row by row from the row
    η = cfg.eta.

    On the base row the solver starts from each run's own plateau state
    (``RateGrid.plateau``: its symmetric coordinates at half its time to specialize, or at
    α_max) and follows the flow (pseudo-time step 1); the rows above and below start from
    the previous row's solution (step 10: nearly Newton). So the map follows one branch — the
    plateau that the runs of the base row approach — and marks as not found where that
    branch ends (its norms run away, or it disappears)."""
    if grid.names != ("eta", "eta_in"):
        raise ValueError(f"plateau_map needs a grid over (eta, eta_in), got {grid.names}")
    etas, eta_ins = grid.values
    i0 = int(np.argmin(np.abs(np.log(etas / cfg.eta))))
    n = grid.plateau.shape[-1]
    shape = (len(etas), len(eta_ins))
    found, stable = np.zeros(shape, bool), np.zeros(shape, bool)
    y, rate = np.full(shape + (n,), np.nan), np.full(shape, np.nan)
    guess = grid.plateau[i0]
    row = {"eta": np.full(len(eta_ins), etas[i0]), "eta_in": eta_ins}
    f, yy, lam, st = plateau_points(cfg, row, guess, pseudo_time=1.0, max_iter=300)
    found[i0], y[i0], rate[i0], stable[i0] = f, yy, lam, st
    for order in (range(i0 + 1, len(etas)), range(i0 - 1, -1, -1)):
        last = y[i0].copy()
        for i in order:
            ok = np.all(np.isfinite(last), axis=1)
            if not ok.any():
                break
            row = {"eta": np.full(ok.sum(), etas[i]), "eta_in": eta_ins[ok]}
            f, yy, lam, st = plateau_points(cfg, row, last[ok])
            sel = np.flatnonzero(ok)
            found[i, sel], y[i, sel], rate[i, sel], stable[i, sel] = f, yy, lam, st
            y[i, sel[~f]] = np.nan
            last = np.where(found[i][:, None], y[i], np.nan)
    q = np.where(found, y[..., 0], np.nan)
    return PlateauMap(grid.names, grid.values, np.where(found, rate, np.nan), q, found,
                      np.where(found[..., None], y, np.nan), stable)


def follow_plateau(cfg, points: dict, x, known_x, known_y, rounds: int = 4):
    """Plateaus at the points ``points`` ({key: (G,)}) ordered along the positive variable
    ``x`` (G,), by continuation from known solutions (``known_x`` (k,), ``known_y`` (k, n)):
    in each round every lane not yet found starts from the found solution nearest in log x
    (known, or found in an earlier round), until a round finds nothing new. Returns
    (found (G,), y (G, n), rate (G,))."""
    x = np.asarray(x, dtype=float)
    G = len(x)
    found = np.zeros(G, dtype=bool)
    y = np.full((G, np.shape(known_y)[-1]), np.nan)
    rate = np.full(G, np.nan)
    kx, ky = np.asarray(known_x, dtype=float), np.asarray(known_y, dtype=float)
    for _ in range(rounds):
        todo = np.flatnonzero(~found)
        if todo.size == 0:
            break
        sx = np.concatenate([kx, x[found]])
        sy = np.concatenate([ky, y[found]])
        near = np.argmin(np.abs(np.log(x[todo, None] / sx[None, :])), axis=1)
        f, yy, lam, _ = plateau_points(cfg, {k: np.asarray(v, dtype=float)[todo]
                                             for k, v in points.items()}, sy[near])
        if not f.any():
            break
        found[todo[f]], y[todo[f]], rate[todo[f]] = True, yy[f], lam[f]
    return found, y, rate


def noise_boundary(cfg, column: PlateauMap, fine: int = PLATEAU_LANES) -> tuple[float, float]:
    """The bracket (lo, hi) of u_c, the ratio η/b beyond which no plateau exists at finite
    norms, along the 1-d plateau map ``column`` over ``eta`` (query batch 1, its η_in): the
    plateau is continued on ``fine`` geometric steps between the last η with a plateau and
    the next one (:func:`follow_plateau`); lo is the last with a plateau, hi the next
    without."""
    if column.names != ("eta",):
        raise ValueError(f"noise_boundary needs a 1-d plateau map over eta, got {column.names}")
    etas = column.values[0]
    ok = np.flatnonzero(column.found)
    last = ok.max()
    if last + 1 >= len(etas):
        raise ValueError("the plateau exists up to the largest η of the column")
    u = np.geomspace(etas[last], etas[last + 1], fine + 1)[1:]
    eta_in = float(cfg.eta_in)
    f, _, _ = follow_plateau(cfg, {"eta": u, "eta_in": np.full(fine, eta_in)}, u,
                             etas[ok], column.y[ok])
    missing = np.flatnonzero(~f)
    if missing.size == 0:
        raise ValueError(f"the plateau continues up to η = {etas[last + 1]:g}, where the grid "
                         "did not find it: refine the grid")
    k = int(missing[0])
    return float(etas[last] if k == 0 else u[k - 1]), float(u[k])


def column_plateaus(cfg, column: RateGrid, batch: float, base: PlateauMap) -> np.ndarray:
    """The plateau's norm Q_kk at the outer rates of the 1-d grid ``column`` with query batch
    ``batch`` (NaN where none is found), continued (:func:`follow_plateau`) from the plateaus
    of ``base`` (a 1-d plateau map over ``eta`` at query batch 1, at the same η_in) at the
    same η/b."""
    etas = column.axis("eta")
    ok = np.flatnonzero(base.found)
    points = {"eta": etas, "query_batch": np.full(len(etas), float(batch)),
              "eta_in": np.full(len(etas), float(cfg.eta_in))}
    found, y, _ = follow_plateau(cfg, points, etas / batch, base.values[0][ok], base.y[ok])
    return np.where(found, y[:, 0], np.nan)


def size_bias_bound(samples_by_size: dict, N: int, false_alarm: float) -> np.ndarray:
    """An upper bound on the finite-N bias |E[mean] − limit| at size ``N`` of each entry,
    measured from samples at two sizes (the statistics policy's allowance): with the bias
    β/N, β̂ = (m₁ − m₂)/(1/N₁ − 1/N₂) from the seed means at the sizes N₁ < N₂, and the
    bound (|β̂| + t s.e.(β̂))/N, t the Student quantile at 1 − false_alarm/(2m) (m entries;
    the smaller seed count minus one degrees of freedom): it holds for every entry with
    probability at least 1 − false_alarm if the bias is β/N. ``samples_by_size``:
    {N: (seeds, entries)}."""
    from scipy import stats

    (n1, x1), (n2, x2) = sorted(samples_by_size.items())
    s1, s2 = seed_stats(x1), seed_stats(x2)
    scale = 1.0 / (1.0 / n1 - 1.0 / n2)
    beta = (s1.mean - s2.mean) * scale
    se = np.hypot(s1.sem, s2.sem) * scale
    df = np.minimum(s1.n, s2.n) - 1
    t = stats.t.isf(false_alarm / (2 * np.size(beta)), df)
    return (np.abs(beta) + t * se) / float(N)


# -- optimising the rates through the ODE ------------------------------------------------------

@dataclass(frozen=True)
class Protocol:
    """Rates of a meta-training run: a constant outer rate η and an inner rate η_in(α)
    piecewise linear through (knots, eta_in) (constant beyond the ends)."""

    eta: float
    knots: np.ndarray
    eta_in: np.ndarray

    @classmethod
    def constant(cls, eta: float, eta_in: float, knots) -> "Protocol":
        knots = np.asarray(knots, dtype=float)
        return cls(float(eta), knots, np.full(len(knots), float(eta_in)))

    def eta_in_at(self, alpha) -> np.ndarray:
        """η_in(α) at the times ``alpha``."""
        return np.interp(np.asarray(alpha, dtype=float), self.knots, self.eta_in)

    def hyper(self, cfg, T=None) -> drift.Hyper:
        """The :class:`metarep.drift.Hyper` of ``cfg`` with these rates (η_in a
        :class:`metarep.drift.Schedule`)."""
        return drift.hyper(cfg, T)._replace(
            eta=jnp.float64(self.eta),
            eta_in=drift.Schedule(jnp.asarray(self.knots), jnp.asarray(self.eta_in)))


@partial(jax.jit, static_argnames=("steps", "first_order"))
def _mean_error_and_gradient(theta, state0, hp, knots, grid, dt, steps, first_order):
    """(∂⟨ε_g⟩/∂θ, (⟨ε_g⟩, states, eg, extra columns)) for θ = (log η, log η_in at the
    knots), by forward-mode differentiation through the RK4 integration
    (:func:`metarep.ode.solve_and_observe`)."""
    def mean_error(theta):
        h = hp._replace(eta=jnp.exp(theta[0]),
                        eta_in=drift.Schedule(knots, jnp.exp(theta[1:])))
        states, eg, extra = ode.solve_and_observe(state0, h, grid, dt, steps, first_order)
        value = jnp.sum(0.5 * (eg[1:] + eg[:-1]) * jnp.diff(grid)) / (grid[-1] - grid[0])
        return value, (value, states, eg, extra)

    return jax.jacfwd(mean_error, has_aux=True)(theta)


@dataclass(frozen=True)
class Optimum:
    """A protocol minimising the time-averaged meta-test error ⟨ε_g⟩ of the ODE
    (:func:`optimise_protocol`): the protocol, ⟨ε_g⟩ there, the gradient with respect to
    (log η, log η_in …) of the optimised parameters, the number of evaluations, and the
    optimiser's message."""

    protocol: Protocol
    mean_error: float
    gradient: np.ndarray
    evaluations: int
    message: str


def mean_error(cfg, protocol: Protocol) -> tuple[float, np.ndarray, Trajectory]:
    """(⟨ε_g⟩, gradient, trajectory): the time-averaged meta-test error
    (1/α_max) ∫ ε_g dα of the ODE of ``cfg`` (from its initial state, trapezoid rule over
    cfg.record_alphas, ε_g at each record's inner rate) run with ``protocol``, its gradient
    with respect to (log η, log η_in at each knot) by forward-mode automatic
    differentiation through the integrator, and the run itself."""
    s0, T = ode.initial_state(cfg)
    state0 = drift.State(*(jnp.asarray(x) for x in s0))
    theta = jnp.asarray(np.concatenate([[np.log(protocol.eta)], np.log(protocol.eta_in)]))
    grid = np.asarray(cfg.record_alphas)
    grad, (value, states, eg, extra) = _mean_error_and_gradient(
        theta, state0, drift.hyper(cfg, T), jnp.asarray(protocol.knots), jnp.asarray(grid),
        cfg.dt, cfg.inner_steps, cfg.first_order)
    traj = Trajectory(grid, *(np.asarray(x) for x in states), np.asarray(eg),
                      observables={k: np.asarray(v) for k, v in extra.items()},
                      config=cfg.replace(eta=protocol.eta), T=T)
    return float(value), np.asarray(grad), traj


def optimise_protocol(cfg, start: Protocol, constant: bool, eta_bounds, eta_in_bounds,
                      max_evaluations: int = 40) -> Optimum:
    """Minimise the time-averaged meta-test error :func:`mean_error` over the protocol's
    rates by L-BFGS-B in (log η, log η_in …), from ``start``, with η and every η_in within
    the bounds (pairs). ``constant``: a single η_in for all times (the knot values move
    together: the gradient is the sum of theirs); otherwise every knot value is free."""
    from scipy.optimize import minimize

    knots, n = np.asarray(start.knots, dtype=float), len(start.knots)
    expand = (lambda x: np.concatenate([x[:1], np.full(n, x[1])])) if constant else (  # noqa: E731
        lambda x: np.asarray(x))
    fold = (lambda g: np.array([g[0], g[1:].sum()])) if constant else (  # noqa: E731
        lambda g: g)
    count = [0]

    def fun(x):
        count[0] += 1
        th = expand(x)
        value, grad, _ = mean_error(cfg, Protocol(float(np.exp(th[0])), knots,
                                                  np.exp(th[1:])))
        return value, fold(grad)

    x0 = np.log(np.concatenate([[start.eta], [start.eta_in[0]] if constant else start.eta_in]))
    bounds = [tuple(np.log(eta_bounds))] + [tuple(np.log(eta_in_bounds))] * (len(x0) - 1)
    res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxfun": max_evaluations})
    th = expand(res.x)
    best = Protocol(float(np.exp(th[0])), knots, np.exp(th[1:]))
    return Optimum(best, float(res.fun), np.asarray(res.jac), count[0], str(res.message))


# -- simulations ---------------------------------------------------------------------------------

def state_errors(cfg, traj: Trajectory, eta_in=None) -> np.ndarray:
    """The closed-form meta-test error F (``eq-metaloss``) of every recorded state of
    ``traj`` (shape of ``traj.eg``), adapting with the inner rate ``eta_in`` (a number, or
    one per record; default cfg.eta_in) and the trajectory's teacher overlaps."""
    rates = np.broadcast_to(np.asarray(cfg.eta_in if eta_in is None else eta_in, dtype=float),
                            traj.alpha.shape)

    def one(Q, R, a, T, rate):
        dist = metaloss.task_dist(cfg, T)
        return metaloss.meta_test_error(Q, R, a, dist, rate, cfg.inner_steps)

    f = jax.jit(jnp.vectorize(one, signature="(k,k),(k,m),(k),(m,m),()->()"))
    return np.asarray(f(jnp.asarray(traj.Q), jnp.asarray(traj.R), jnp.asarray(traj.a),
                        jnp.asarray(traj.T_records), jnp.asarray(np.broadcast_to(
                            rates, traj.eg.shape))))


def simulate_protocol(cfg, protocol: Protocol, seeds, segment: int = 32) -> Trajectory:
    """The microscopic process of ``cfg`` (seeds vmapped, as :func:`metarep.simulator.
    simulate`) run with ``protocol``: η, and η_in(α) held at its value at the middle of
    each segment of ``segment`` steps (the rates are traced, so the segments share one
    compiled loop; a step draws the same random numbers however a run is cut, so a constant
    protocol reproduces :func:`~metarep.simulator.simulate` exactly). Records at
    cfg.record_alphas (snapped to whole steps); ``eg`` is the closed-form meta-test error of
    each recorded state at that time's inner rate (:func:`state_errors`)."""
    from metarep.initial import initial_weights
    from metarep.simulator import advance, record_steps, run_keys

    seeds = list(range(cfg.seed, cfg.seed + seeds)) if isinstance(seeds, int) else list(seeds)
    init = [initial_weights(cfg.replace(seed=s)) for s in seeds]
    B, W, a = (jnp.asarray(np.stack(x)) for x in zip(*init))
    keys = jnp.stack([run_keys(s)[0] for s in seeds])
    steps = record_steps(cfg)
    N, t, records = cfg.N, 0, []
    for target in steps:
        while t < target:
            t1 = int(min(target, (t // segment + 1) * segment))
            rate = float(protocol.eta_in_at(0.5 * (t + t1) / N))
            W, a = advance(cfg.replace(eta=protocol.eta, eta_in=rate), W, a, B, keys, t, t1)
            t = t1
        Wn = np.asarray(W)
        records.append((Wn @ np.swapaxes(Wn, 1, 2) / N,
                        Wn @ np.swapaxes(np.asarray(B), 1, 2) / N, np.asarray(a)))
    Q, R, A = (np.stack(x, axis=1) for x in zip(*records))
    alpha = steps / N
    T = np.stack([b @ b.T / N for b, _, _ in init]) if cfg.teacher != "orthogonal" else None
    traj = Trajectory(alpha, Q, R, A, np.zeros(Q.shape[:2]), seeds=np.array(seeds),
                      config=cfg.replace(eta=protocol.eta), T=T)
    return traj.replace(eg=state_errors(cfg, traj, protocol.eta_in_at(alpha)))


@dataclass(frozen=True)
class SimPoint:
    """A simulation at one grid point: η, η_in, and the trajectory (with a seed axis; ``eg``
    the closed-form meta-test error of each recorded state, :func:`state_errors`)."""

    eta: float
    eta_in: float
    traj: Trajectory

    @property
    def final_error(self) -> tuple[float, float]:
        """Seed mean and standard error of the meta-test error at α_max."""
        st = seed_stats(self.traj.eg[:, -1])
        return float(st.mean), float(st.sem)

    @property
    def t_spec(self) -> np.ndarray:
        """Time to specialize per seed (∞ if not by α_max), (seeds,)."""
        return specialization_time(self.traj.alpha, self.traj.specialization())


def simulate_points(cfg, points, seeds: int = 16) -> list[SimPoint]:
    """:func:`metarep.simulator.simulate` at the (η, η_in) pairs ``points`` (one compilation
    for all: the rates are traced), ``seeds`` seeds each (vmapped), without the Monte-Carlo
    estimate of ε_g: ``eg`` is the closed-form error of each recorded state
    (:func:`state_errors`)."""
    from metarep.simulator import simulate

    out = []
    for e, ei in points:
        c = cfg.replace(eta=float(e), eta_in=float(ei))
        traj = simulate(c, seeds=seeds, progress=False, eg_tasks=0)
        out.append(SimPoint(float(e), float(ei), traj.replace(eg=state_errors(c, traj))))
    return out


# -- figures ------------------------------------------------------------------------------------

def _markers():
    return ["o", "s", "^", "D", "v"]


def _rate_ticks(ax, which: str = "x") -> None:
    """Log axis of a rate: labelled ticks at 1, 2, 5 × 10^k (at 10^k only over more than two
    decades), plain numbers, no minor labels."""
    for name in which:
        axis = ax.xaxis if name == "x" else ax.yaxis
        lo, hi = sorted(ax.get_xlim() if name == "x" else ax.get_ylim())
        wide = lo > 0 and hi / lo > 300
        axis.set_major_locator(LogLocator(base=10.0, subs=(1.0,) if wide else (1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def plot_inner_stability(eta_ins, errors, steps, bound, no_adaptation=None):
    """The meta-test error at a fixed state against η_in for several numbers of inner steps.

    eta_ins (n,), errors (s, n) from :func:`error_vs_inner_rate`, steps (s,), bound = 2/λ_max(C)
    (vertical line); no_adaptation: error without adaptation (horizontal line).
    """
    eta_ins, errors = np.asarray(eta_ins), np.asarray(errors)
    with style():
        fig, ax = plt.subplots(figsize=(4.6, 3.0))
        colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(steps)))
        for S, err, c in zip(steps, errors, colors):
            ax.plot(eta_ins, err, color=c, label=f"$S = {S}$")
        ax.axvline(bound, color="k", ls="--", lw=1.0,
                   label=r"$2/\lambda_\mathrm{max}(C)$")
        if no_adaptation is not None:
            ax.axhline(no_adaptation, color="0.5", ls=":", lw=1.0, label="no adaptation")
        ax.set_yscale("log")
        ax.set_xlabel(ETA_IN_LABEL + " at test time")
        ax.set_ylabel(r"meta-test error $F$ at a fixed state")
        ax.legend(ncol=2)
    return fig


def plot_inner_rate(lines: list[RateGrid]):
    """Three panels against η_in: final error, time to specialize, final stiffness.

    ``lines``: 1-d grids over ``eta_in`` (one per S or meta-gradient, each with a label).
    Diverged runs are marked by crosses at the top of the error panel; the stiffness panel
    shows the bounds 1 (first-order head update, odd S) and 2 (inner loop).
    """
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(9.0, 2.9))
        colors = ["k", "C0", "C2", "C3", "C1"]
        finite = np.concatenate([ln.final_error[np.isfinite(ln.final_error)] for ln in lines])
        top = finite.max() * 1.6
        for i, ln in enumerate(lines):
            x = ln.axis("eta_in")
            c, m = colors[i % len(colors)], _markers()[i % 5]
            ls = "--" if "first" in ln.label else "-"
            axes[0].plot(x, ln.final_error, color=c, ls=ls, marker=m, mfc="white", ms=3,
                         label=ln.label)
            if ln.diverged.any():
                axes[0].plot(x[ln.diverged], np.full(ln.diverged.sum(), top), "x", color=c,
                             ms=5, label=f"{ln.label}: diverged")
            t = np.where(np.isfinite(ln.t_spec), ln.t_spec, np.nan)
            axes[1].plot(x, t, color=c, ls=ls, marker=m, mfc="white", ms=3, label=ln.label)
            axes[2].plot(x, ln.stiffness[..., -1], color=c, ls=ls, marker=m, mfc="white",
                         ms=3, label=ln.label)
        ax = axes[0]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(ETA_IN_LABEL)
        ax.set_ylabel(EG_FINAL_LABEL)
        ax.legend(fontsize=6.5)
        _rate_ticks(ax, "x")
        ax = axes[1]
        ax.set_xscale("log")
        _rate_ticks(ax, "x")
        ax.set_xlabel(ETA_IN_LABEL)
        ax.set_ylabel(TSPEC_LABEL)
        ax.set_ylim(0, lines[0].alpha[-1])
        ax = axes[2]
        ax.axhline(2.0, color="0.4", ls="--", lw=1.0)
        ax.axhline(1.0, color="0.4", ls=":", lw=1.0)
        x0 = lines[0].axis("eta_in")[0]
        ax.text(x0, 2.05, "inner loop unstable", fontsize=7, va="bottom", color="0.3")
        ax.text(x0, 1.05, "first-order head unstable (odd $S$)", fontsize=7, va="bottom",
                color="0.3")
        ax.set_xscale("log")
        ax.set_yscale("log")
        _rate_ticks(ax, "xy")
        ax.set_xlabel(ETA_IN_LABEL)
        ax.set_ylabel(STIFF_LABEL + r" at $\alpha_\mathrm{max}$")
    return fig


def plot_outer_rate(columns: dict, boundaries: dict, plateaus: dict | None = None):
    """The outer rate at several query batches b. ``columns``: {b: 1-d RateGrid over eta};
    ``boundaries``: {b: (lo, hi)} the predicted noise boundary b·u_c (a bracket; dashed at its
    middle, where it lies within the column);
    ``plateaus``: {b: (etas, q)} the norm Q_kk of the plateau at those outer rates (NaN where
    none). Panels against η: time to specialize, final error, and the plateau's norm against
    η/b (one curve for every b, diverging at u_c)."""
    n = 3 if plateaus else 2
    with style():
        fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 2.8))
        colors = ["k", "C0", "C3", "C2"]
        for (b, line), c in zip(sorted(columns.items()), colors):
            x = line.axis("eta")
            t = np.where(np.isfinite(line.t_spec), line.t_spec, np.nan)
            axes[0].plot(x, t, "-o", color=c, mfc="white", ms=3, label=f"$b = {b:g}$")
            axes[1].plot(x, line.final_error, "-o", color=c, mfc="white", ms=3,
                         label=f"$b = {b:g}$")
            if b in boundaries and np.mean(boundaries[b]) <= x.max():
                for ax in axes[:2]:
                    ax.axvline(np.mean(boundaries[b]), color=c, ls="--", lw=1.0)
            if plateaus and b in plateaus:
                e, q = plateaus[b]
                axes[2].plot(np.asarray(e) / b, q, "-", color=c, label=f"$b = {b:g}$")
        axes[0].set_ylabel(TSPEC_LABEL)
        axes[0].set_ylim(0, next(iter(columns.values())).alpha[-1])
        axes[1].set_ylabel(EG_FINAL_LABEL)
        axes[1].set_yscale("log")
        for ax in axes[:2]:
            ax.set_xscale("log")
            _rate_ticks(ax, "x")
            ax.set_xlabel(ETA_LABEL)
        axes[0].legend(title="dashed: predicted noise boundary", title_fontsize=6.5)
        if plateaus:
            ax = axes[2]
            ax.set_xscale("log")
            ax.set_yscale("log")
            _rate_ticks(ax, "x")
            ax.set_xlabel(r"$\eta / b$")
            ax.set_ylabel(r"plateau norm $Q_{kk}$")
            ax.legend()
    return fig


def plot_first_order(lines: list[RateGrid], trajectories: list[RateGrid], eta_ins):
    """The head instability of the first-order meta-gradient. Left: final error against η_in
    for each 1-d grid of ``lines`` (crosses at the top: diverged runs). Right: stiffness
    η_in λ_max(C) against α at the inner rates ``eta_ins`` for each grid of
    ``trajectories`` (one line style per grid), with the bounds 1 and 2."""
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.0))
        colors = ["k", "C3", "C0", "C2", "C1"]
        finite = np.concatenate([ln.final_error[np.isfinite(ln.final_error)] for ln in lines])
        top = finite.max() * 1.6
        for i, ln in enumerate(lines):
            x, c = ln.axis("eta_in"), colors[i % len(colors)]
            axes[0].plot(x, ln.final_error, color=c, marker=_markers()[i % 5], mfc="white",
                         ms=3, label=ln.label)
            if ln.diverged.any():
                axes[0].plot(x[ln.diverged], np.full(ln.diverged.sum(), top), "x", color=c,
                             ms=5)
        axes[0].set_xscale("log")
        axes[0].set_yscale("log")
        _rate_ticks(axes[0], "x")
        axes[0].set_xlabel(ETA_IN_LABEL)
        axes[0].set_ylabel(EG_FINAL_LABEL)
        axes[0].legend(fontsize=6.5, title="crosses: diverged", title_fontsize=6.5)
        shades = plt.get_cmap("plasma")(np.linspace(0.0, 0.75, len(eta_ins)))
        for grid, ls in zip(trajectories, ("--", ":", "-.")):
            for e, c in zip(eta_ins, shades):
                ln = grid.line(eta_in=e)
                axes[1].plot(ln.alpha, ln.stiffness, color=c, ls=ls,
                             label=rf"{grid.label}, $\eta_\mathrm{{in}} = {e:.3g}$")
        axes[1].axhline(1.0, color="0.4", ls=":", lw=1.0)
        axes[1].axhline(2.0, color="0.4", ls="--", lw=1.0)
        axes[1].set_yscale("log")
        _rate_ticks(axes[1], "y")
        axes[1].set_xlabel(ALPHA_LABEL)
        axes[1].set_ylabel(STIFF_LABEL)
        axes[1].legend(fontsize=6)
    return fig


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges of a geometric (log-spaced) grid, for pcolormesh."""
    lv = np.log(v)
    mid = (lv[1:] + lv[:-1]) / 2
    return np.exp(np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]]))


def _plateau_contours(ax, plateaus: "PlateauMap") -> None:
    """λ = 0 (dashed) and the edge of the region with a plateau at finite norms (dotted)."""
    eta, eta_in = plateaus.values
    rate = plateaus.rate
    if np.nanmin(rate) < 0 < np.nanmax(rate):
        ax.contour(eta_in, eta, np.ma.masked_invalid(rate), levels=[0.0], colors="k",
                   linewidths=1.2, linestyles="--")
    if not plateaus.found.all():
        ax.contour(eta_in, eta, plateaus.found.astype(float), levels=[0.5], colors="k",
                   linewidths=1.2, linestyles=":")


def plot_phase_diagram(grid: RateGrid, sims: list[SimPoint] | None = None,
                       plateaus: "PlateauMap | None" = None):
    """The (η_in, η) phase diagram: final meta-test error (left) and time to specialize
    (right, blank where the run does not specialize by α_max), diverged runs hatched;
    simulations as circles filled with their seed-mean values on the same colour scales
    (crosses: not every seed specialized). With ``plateaus`` (a :class:`PlateauMap` of the
    same grid): the line λ = 0 (dashed) and the edge of the region with a plateau at finite
    norms (dotted) on both panels."""
    if grid.names != ("eta", "eta_in"):
        raise ValueError(f"plot_phase_diagram needs a grid over (eta, eta_in), got {grid.names}")
    eta, eta_in = grid.values
    xe, ye = _edges(eta_in), _edges(eta)
    eg = grid.final_error
    t = np.where(np.isfinite(grid.t_spec), grid.t_spec, np.nan)
    finite = eg[np.isfinite(eg)]
    eg_norm = LogNorm(vmin=finite.min(), vmax=finite.max())
    t_norm = Normalize(vmin=0.0, vmax=grid.alpha[-1])
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.4))
        for ax, z, norm, cmap, label in (
                (axes[0], eg, eg_norm, "viridis", EG_FINAL_LABEL),
                (axes[1], t, t_norm, "magma", TSPEC_LABEL)):
            mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(z), norm=norm, cmap=cmap,
                                 shading="flat")
            fig.colorbar(mesh, ax=ax, label=label)
            if grid.diverged.any():
                ax.contourf(eta_in, eta, grid.diverged.astype(float), levels=[0.5, 1.5],
                            colors="none", hatches=["xxx"])
            ax.set_xscale("log")
            ax.set_yscale("log")
            _rate_ticks(ax, "xy")
            ax.set_xlabel(ETA_IN_LABEL)
            ax.set_ylabel(ETA_LABEL)
        spec = np.isfinite(grid.t_spec).astype(float)
        axes[0].contour(eta_in, eta, spec, levels=[0.5], colors="w", linewidths=1.0)
        if plateaus is not None:
            for ax in axes:
                _plateau_contours(ax, plateaus)
        for p in sims or []:
            mean, _ = p.final_error
            ts = p.t_spec
            axes[0].scatter([p.eta_in], [p.eta], c=[mean], norm=eg_norm, cmap="viridis",
                            s=70, edgecolors="w", linewidths=1.5, zorder=4)
            tm = float(np.mean(ts)) if np.all(np.isfinite(ts)) else np.nan
            axes[1].scatter([p.eta_in], [p.eta], c=[tm if np.isfinite(tm) else 0.0],
                            norm=t_norm, cmap="magma", s=70, zorder=4,
                            edgecolors="c" if np.isfinite(tm) else "r", linewidths=1.5,
                            marker="o" if np.isfinite(tm) else "X")
        axes[0].set_title("theory: cells; simulation: circles", fontsize=8)
    return fig


def plot_escape_rate(plateaus: "PlateauMap", grid: RateGrid):
    """The escape rate λ(η, η_in) of the specialization mode at the plateau (diverging
    colours, blue: λ < 0, the plateau is stable; grey: no plateau at finite norms), with
    λ = 0 (dashed), the edge of the region with a plateau (dotted), and, white, the edge of
    the region of ``grid`` that specializes by α_max (the finite-horizon map)."""
    from matplotlib.colors import TwoSlopeNorm

    eta, eta_in = plateaus.values
    xe, ye = _edges(eta_in), _edges(eta)
    rate = plateaus.rate
    lim = float(np.nanmax(np.abs(rate)))
    with style():
        fig, ax = plt.subplots(figsize=(4.8, 3.6))
        ax.set_facecolor("0.8")
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(rate), cmap="RdBu_r",
                             norm=TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim),
                             shading="flat")
        fig.colorbar(mesh, ax=ax, label=r"escape rate $\lambda$ at the plateau")
        _plateau_contours(ax, plateaus)
        ax.contour(grid.values[1], grid.values[0], np.isfinite(grid.t_spec).astype(float),
                   levels=[0.5], colors="w", linewidths=1.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _rate_ticks(ax, "xy")
        ax.set_xlabel(ETA_IN_LABEL)
        ax.set_ylabel(ETA_LABEL)
        ax.set_title(r"dashed: $\lambda = 0$; dotted: no plateau beyond; "
                     r"white: specialized by $\alpha_\mathrm{max}$", fontsize=7)
    return fig


def plot_protocols(theory: dict, sims: dict | None = None):
    """Optimised rates. ``theory``: {label: (Protocol, Trajectory of the ODE)}; ``sims``:
    {label: Trajectory with a seed axis} for some of the labels. Left: the inner rate
    η_in(α) of each protocol; right: the meta-test error against α, theory as lines,
    simulations as markers (seed mean ± 1 s.e.)."""
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.0))
        colors = ["0.5", "k", "C3", "C0"]
        for (label, (prot, traj)), c in zip(theory.items(), colors):
            a = traj.alpha
            axes[0].plot(a, prot.eta_in_at(a), color=c,
                         label=rf"{label} ($\eta = {prot.eta:.3g}$)")
            axes[1].plot(a, traj.eg, color=c, label=f"{label}, theory")
            if sims and label in sims:
                st = seed_stats(sims[label].eg)
                draw_sim(axes[1], sims[label].alpha, st.mean, st.sem, c,
                         label=f"{label}, simulation", every=2)
        axes[0].set_xlabel(ALPHA_LABEL)
        axes[0].set_ylabel(ETA_IN_LABEL)
        axes[0].legend(fontsize=6.5)
        axes[1].set_yscale("log")
        axes[1].set_xlabel(ALPHA_LABEL)
        axes[1].set_ylabel(r"meta-test error $\epsilon_g$")
        axes[1].legend(fontsize=6.5)
    return fig


__all__ = ["RateGrid", "time_average", "rate_grids", "rate_grid", "outer_rate_column",
           "outer_rate_max", "error_vs_inner_rate", "adaptation_spectrum", "inner_rate_bound",
           "concatenate_lines", "PlateauMap", "PLATEAU_LANES", "plateau_points", "plateau_map",
           "follow_plateau", "noise_boundary", "column_plateaus", "size_bias_bound", "Protocol",
           "Optimum", "mean_error", "optimise_protocol", "state_errors", "simulate_protocol",
           "SimPoint", "simulate_points", "plot_inner_stability", "plot_inner_rate",
           "plot_outer_rate", "plot_first_order", "plot_phase_diagram", "plot_escape_rate",
           "plot_protocols"]
