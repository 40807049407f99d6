r"""Reading recorded runs: crossing and specialization times, phases, seed statistics, fits.

Everything here is a plain NumPy function of recorded arrays (or of a
:class:`~metarep.trajectory.Trajectory`); nothing integrates or simulates. One convention per
idea, used by every chapter:

* **Crossing time** (:func:`crossing_time`): the first time a recorded quantity reaches a
  level, linearly interpolated between the two records that bracket it; ``inf`` when it never
  does (NaN records never count), ``alpha[0]`` when it starts at or above the level. The
  **specialization time** α_s (:func:`specialization_time`) is the crossing time of the
  specialization index s (book equation ``eq-spec-index``) at s = 1/2.
* **Seed statistics** (:func:`seed_stats`): the mean over seeds, its standard error
  (sample standard deviation with ddof = 1 over √n) and the number of seeds n; with one
  seed the standard error is undefined (NaN), never 0. Student-t intervals
  (:func:`t_halfwidth`) and the theory-agreement test of the book's statistics policy
  (book section ``sec-statistics``) build on it: :func:`agreement` (Student-t tests of
  |E[sim] − theory| ≤ a finite-N allowance, Holm's correction across everything compared),
  the allowance measured from the simulations themselves at two or more sizes
  (:func:`size_fit`, :func:`bias_allowance`: the bias of a seed mean is β/N + O(1/N²) away
  from symmetry breaking, and an upper confidence bound on |β| bounds it at every N), and
  the test of the extrapolated N → ∞ limit, which measures the bias and tests the theory at
  one family-wise rate (:func:`size_agreement`); :func:`size_extrapolation` is its
  paired two-size special case (one deviation per seed at each size).
* **Phases** (:func:`phases`): escape, plateau, specialization and convergence of one
  theory run.
* **Fits** (:func:`loglog_slope`, :func:`fit_line`, :func:`fit_group_means`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple

import numpy as np

#: Specialization index at which a unit population counts as specialized (α_s).
SPEC_LEVEL = 0.5


# -- times ------------------------------------------------------------------------------------

def crossing_time(alpha, x, level: float) -> np.ndarray:
    """First time at which ``x`` reaches ``level`` from below, linearly interpolated.

    alpha (n,) increasing record times; x (..., n). Returns (...,) floats: ``inf`` where x
    never reaches the level (NaN records never count), ``alpha[0]`` where it starts at or
    above it.
    """
    alpha = np.asarray(alpha, dtype=float)
    x = np.nan_to_num(np.asarray(x, dtype=float), nan=-np.inf)
    above = x >= level
    first = np.argmax(above, axis=-1)
    prev = np.maximum(first - 1, 0)
    x1 = np.take_along_axis(x, first[..., None], -1)[..., 0]
    x0 = np.take_along_axis(x, prev[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where((first > 0) & np.isfinite(x0), (level - x0) / (x1 - x0), 1.0)
    t = alpha[prev] + np.clip(frac, 0.0, 1.0) * (alpha[first] - alpha[prev])
    return np.where(above.any(axis=-1), t, np.inf)


def specialization_time(alpha, s, level: float = SPEC_LEVEL) -> np.ndarray:
    """α_s: the :func:`crossing_time` of the specialization index s (..., n) at ``level``
    (default 1/2); ``inf`` where the run has not specialized by its last record."""
    return crossing_time(alpha, s, level)


# -- statistics over seeds --------------------------------------------------------------------

class SeedStats(NamedTuple):
    """Mean over seeds, its standard error (ddof = 1; NaN for one seed) and the number of
    seeds n (per entry: NaN samples are left out)."""

    mean: np.ndarray
    sem: np.ndarray
    n: np.ndarray


def seed_stats(x, axis: int = 0) -> SeedStats:
    """:class:`SeedStats` of samples ``x`` along ``axis`` (the seed axis). NaN samples are
    ignored; entries with fewer than two finite samples have a NaN standard error."""
    x = np.asarray(x, dtype=float)
    n = np.sum(np.isfinite(x), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(x, axis=axis)
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        dev = np.where(np.isfinite(x), x - np.expand_dims(mean, axis), 0.0)
        var = np.sum(dev**2, axis=axis) / np.maximum(n - 1, 1)
        sem = np.where(n > 1, np.sqrt(var / np.maximum(n, 1)), np.nan)
    return SeedStats(mean, sem, n)


def format_pm(value: float, sem: float, digits: int = 2, signed: bool = False) -> str:
    """"value ± sem" for the text of a chapter: the standard error to ``digits`` significant
    digits and the value to the same decimal place (the digits the statistics justify), e.g.
    ``format_pm(0.01893, 1.23e-5)`` → "0.018930 ± 0.000012"; ``signed`` prints the sign of
    the value also when it is positive (deviations). A standard error that is not finite and
    positive prints as it is, with the value to 4 significant digits."""
    value, sem = float(value), float(sem)
    sign = "+" if signed else ""
    if not np.isfinite(sem) or sem <= 0:
        return f"{value:{sign}.4g} ± {sem:g}"
    decimals = max(0, digits - 1 - int(np.floor(np.log10(sem))))
    return f"{value:{sign}.{decimals}f} ± {sem:.{decimals}f}"


def t_halfwidth(sem, n, confidence: float = 0.95) -> np.ndarray:
    """Half-width of the two-sided Student-t interval of a mean: t_{n−1, (1+c)/2} · sem."""
    from scipy import stats   # (imported when needed: scipy.stats is slow to import)

    n = np.asarray(n)
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(0.5 + confidence / 2.0, np.where(n > 1, n - 1, np.nan))
    return q * np.asarray(sem, dtype=float)


class Agreement(NamedTuple):
    """Result of :func:`agreement` (one entry per record or compared quantity).

    excess: |mean − theory| − allowance; t: excess/sem; p: the p-values of the composite null
    |E − theory| ≤ allowance (:func:`agreement`); reject: Holm's rejections at the family-wise rate ``false_alarm``;
    ``ok`` is True when nothing is rejected.
    """

    excess: np.ndarray
    t: np.ndarray
    p: np.ndarray
    reject: np.ndarray
    false_alarm: float

    @property
    def ok(self) -> bool:
        return not bool(np.any(self.reject))

    @property
    def worst(self) -> int:
        """Index of the smallest p-value."""
        return int(np.nanargmin(self.p))


def holm(p, rate: float) -> np.ndarray:
    """Holm's step-down rejections of the hypotheses with p-values ``p`` (any shape) at the
    family-wise error rate ``rate``: sort p ascending, reject p_(i) ≤ rate/(m − i) while it
    holds. NaN p-values are never rejected and do not count in m."""
    p = np.asarray(p, dtype=float)
    flat = p.ravel()
    ok = np.isfinite(flat)
    m = int(ok.sum())
    reject = np.zeros(flat.shape, dtype=bool)
    order = np.argsort(np.where(ok, flat, np.inf))
    for i, j in enumerate(order[:m]):
        if flat[j] > rate / (m - i):
            break
        reject[j] = True
    return reject.reshape(p.shape)


def agreement(samples, theory, allowance=0.0, false_alarm: float = 1e-3,
              axis: int = 0) -> Agreement:
    r"""Does the seed mean of ``samples`` agree with ``theory`` up to ``allowance``?

    For each entry (record, quantity) the null hypothesis is |E[sample] − theory| ≤ a, where
    the allowance a bounds the systematic finite-N deviation of the mean (it must be measured,
    never guessed: :func:`bias_allowance` measures it from two or more sizes). With d = |mean − theory| and s
    its standard error, the p-value is the largest probability of a deviation at least d
    under the null, reached at E = theory ± a: p = P(T ≥ (d − a)/s) + P(T ≥ (d + a)/s), T
    Student's t with n − 1 degrees of freedom (two-sided for a = 0). Holm's correction keeps
    the probability of any false rejection over all entries at most ``false_alarm``.
    ``samples`` (..., seeds on ``axis``, ...), ``theory`` and ``allowance`` broadcast to the
    remaining shape. At least two seeds per entry.
    """
    st = seed_stats(samples, axis=axis)
    excess, t, p = _agreement_p(st, theory, allowance)
    return Agreement(excess, t, p, holm(p, false_alarm), float(false_alarm))


def _agreement_p(st: SeedStats, theory, allowance):
    """(excess, t, p) of :func:`agreement` for the seed statistics ``st``."""
    from scipy import stats

    if np.any(st.n < 2):
        raise ValueError("agreement needs at least two finite samples per entry")
    a = np.asarray(allowance, dtype=float)
    excess = np.abs(st.mean - np.asarray(theory, dtype=float)) - a
    t = excess / st.sem
    p = stats.t.sf(t, st.n - 1) + stats.t.sf(t + 2 * a / st.sem, st.n - 1)
    return excess, t, np.minimum(p, 1.0)


class SizeExtrapolation(NamedTuple):
    """Result of :func:`size_extrapolation` (entries: records or compared quantities).

    limit (n, ...): per-pair estimates of the deviation extrapolated to N → ∞ (pass them to
    :func:`agreement` with theory 0); bias, bias_sem (...): the measured finite-N bias of the
    seed mean at the larger size N and its standard error.
    """

    limit: np.ndarray
    bias: np.ndarray
    bias_sem: np.ndarray


def size_extrapolation(dev, dev_small, ratio: float, axis: int = 0) -> SizeExtrapolation:
    r"""Remove the measured O(1/N) bias from simulation-minus-theory deviations, using runs
    at two sizes N and N/``ratio`` (the book's statistics policy: the finite-N bias is
    measured, never guessed).

    ``dev`` and ``dev_small``: deviations sim − theory of n runs each (seeds on ``axis``, the
    same shape), at size N and N/``ratio``; the runs of the two sizes are independent. Away
    from symmetry breaking the seed mean of a deviation is E[dev] = d_∞ + b/N + O(1/N²), with
    d_∞ = 0 if the theory is the N → ∞ limit. Then the bias at N is
    b/N = (E[dev_small] − E[dev])/(ratio − 1), and the pair estimates

        (ratio · dev_i − dev_small_i)/(ratio − 1),   i = 1 … n

    are independent, with mean d_∞ + O(1/N²) and a spread that contains the noise of both
    sizes, so ``agreement(limit, 0.0)`` tests d_∞ = 0 with n − 1 degrees of freedom and no
    allowance left to choose. Pairing run i of one size with run i of the other is arbitrary
    (they are independent).
    """
    dev = np.moveaxis(np.asarray(dev, dtype=float), axis, 0)
    small = np.moveaxis(np.asarray(dev_small, dtype=float), axis, 0)
    if dev.shape != small.shape:
        raise ValueError(f"dev {dev.shape} and dev_small {small.shape} must have the same "
                         "shape (the same number of runs at both sizes)")
    if not ratio > 1:
        raise ValueError(f"ratio must be > 1 (N over the smaller size), got {ratio}")
    limit = (ratio * dev - small) / (ratio - 1.0)
    diff = seed_stats(small - dev)
    return SizeExtrapolation(np.moveaxis(limit, 0, axis), diff.mean / (ratio - 1.0),
                             diff.sem / (ratio - 1.0))



# -- the finite-N allowance, measured from several sizes ----------------------------------------

class SizeFit(NamedTuple):
    """Seed means of one quantity at several input dimensions N, fitted per entry as
    m_N = limit + slope/N (:func:`size_fit`).

    sizes (k,) increasing; mean, sem (k, ...): the seed means and their standard errors at
    each size; limit, limit_se: the extrapolation N → ∞ (Richardson's for two sizes) and its
    standard error; slope, slope_se: the coefficient β of the 1/N bias and its standard
    error; slope_df, limit_df: their Welch–Satterthwaite degrees of freedom.
    """

    sizes: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    limit: np.ndarray
    limit_se: np.ndarray
    slope: np.ndarray
    slope_se: np.ndarray
    slope_df: np.ndarray
    limit_df: np.ndarray

    def bias(self, N) -> np.ndarray:
        """The fitted bias slope/N of the seed mean at size N."""
        return self.slope / float(N)

    def bias_se(self, N) -> np.ndarray:
        """The standard error of :meth:`bias` at size N."""
        return self.slope_se / float(N)

    def test(self, which: str, value=0.0, false_alarm: float = 1e-3) -> "Agreement":
        """Two-sided Student-t tests (Welch degrees of freedom) of ``which`` = ``"limit"``
        or ``"slope"`` = ``value`` for every entry, Holm's correction over the entries at
        the family-wise rate ``false_alarm``: an :class:`Agreement` with
        excess = |estimate − value| and t = excess/s.e. The limit test is
        :func:`size_agreement`; the slope test of N·(deviation) checks the 1/N law itself
        (its slope is the 1/N² coefficient of the bias)."""
        from scipy import stats

        if which not in ("limit", "slope"):
            raise ValueError(f"which must be 'limit' or 'slope', got {which!r}")
        est, se, df = ((self.limit, self.limit_se, self.limit_df) if which == "limit"
                       else (self.slope, self.slope_se, self.slope_df))
        excess = np.abs(est - np.asarray(value, dtype=float))
        t = excess / se
        p = np.minimum(2 * stats.t.sf(t, df), 1.0)
        return Agreement(excess, t, p, holm(p, false_alarm), float(false_alarm))


def _by_size(samples_by_size: Mapping[int, object], axis: int):
    if len(samples_by_size) < 2:
        raise ValueError("the finite-N bias needs samples at two or more sizes N")
    sizes = np.array(sorted(int(n) for n in samples_by_size), dtype=float)
    if sizes[0] < 1 or len(set(sizes)) != len(sizes):
        raise ValueError(f"sizes must be distinct positive integers, got {sorted(samples_by_size)}")
    stats_ = [v if isinstance(v, SeedStats) else seed_stats(v, axis=axis)
              for v in (samples_by_size[int(n)] for n in sizes)]
    shapes = {st.mean.shape for st in stats_}
    if len(shapes) != 1:
        raise ValueError(f"the samples at the sizes {sizes.astype(int).tolist()} compare "
                         f"different entries (shapes {sorted(shapes)})")
    if any(np.any(st.n < 2) for st in stats_):
        raise ValueError("the finite-N bias needs at least two finite samples per entry and size")
    return sizes, stats_


def _welch_df(coef, sem, n):
    """Welch–Satterthwaite degrees of freedom of Σ_i coef_i · mean_i (axis 0: sizes)."""
    parts = (coef * sem) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(parts, axis=0) ** 2 / np.sum(parts**2 / (n - 1), axis=0)


def size_fit(samples_by_size: Mapping[int, object], axis: int = 0) -> SizeFit:
    r"""Fit the seed means of a quantity at several N as m_N = limit + β/N, entry by entry.

    ``samples_by_size``: {N: samples}, each with the seed axis ``axis`` and the same
    remaining shape (e.g. the deviation sim − theory of every run at every record; different
    N may have different numbers of seeds), or {N: :class:`SeedStats`} of such samples. Away from symmetry breaking the bias of a seed
    mean is β/N + O(1/N²) (the fluctuations of a run are O(1/√N), and every nonlinearity of
    the drift or of the observable turns their variance into an O(1/N) shift of the mean),
    so the means lie on a line in 1/N. The fit is least squares weighted by 1/sem²; with two
    sizes it passes through both means (β = (m₁ − m₂)/(1/N₁ − 1/N₂), Richardson's limit).
    Standard errors propagate the seed standard errors; the degrees of freedom are
    Welch–Satterthwaite's. For sizes N/r and N with n runs each, ``limit`` is the mean of the
    pairwise estimates (r·dev − dev_small)/(r − 1) and :meth:`SizeFit.bias` (N) is
    (m_small − m)/(r − 1), with the standard errors of independent means (tested).
    """
    sizes, st = _by_size(samples_by_size, axis)
    mean = np.stack([s.mean for s in st])
    sem = np.stack([s.sem for s in st])
    n = np.stack([s.n for s in st]).astype(float)
    x = (1.0 / sizes).reshape((-1,) + (1,) * (mean.ndim - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        w = 1.0 / sem**2
        W = np.sum(w, axis=0)
        xm = np.sum(w * x, axis=0) / W
        sxx = np.sum(w * (x - xm) ** 2, axis=0)
        c_slope = w * (x - xm) / sxx                 # slope = Σ c_slope · mean
        c_limit = w / W - xm * c_slope               # limit = Σ c_limit · mean
    slope = np.sum(c_slope * mean, axis=0)
    limit = np.sum(c_limit * mean, axis=0)
    slope_se = np.sqrt(np.sum((c_slope * sem) ** 2, axis=0))
    limit_se = np.sqrt(np.sum((c_limit * sem) ** 2, axis=0))
    return SizeFit(sizes, mean, sem, limit, limit_se, slope, slope_se,
                   _welch_df(c_slope, sem, n), _welch_df(c_limit, sem, n))


def bias_allowance(samples_by_size: Mapping[int, object], N: int | None = None,
                   false_alarm: float = 5e-4, axis: int = 0) -> np.ndarray:
    r"""The measured finite-N allowance: a bound on the bias |E[seed mean] − limit| at size N.

    From :func:`size_fit` of ``samples_by_size`` (at least two sizes), the upper confidence
    bound (|β̂| + t·s.e.(β̂))/N on |β|/N, with t the Student quantile at 1 − false_alarm/(2m)
    (Welch degrees of freedom), m the number of entries: with probability at least
    1 − ``false_alarm`` the bound holds for every entry at once (and at every N, since the
    bias is β/N), if the bias is β/N. ``N`` defaults to the largest size. The O(1/N²)
    remainder is not covered; a third size shows whether it matters (the chapter "Does the
    theory hold?" measures it). Passed to :func:`agreement` with samples at N (independent
    of those measured here, or the same: p grows with the allowance, so on the event that
    every bound holds each p-value is at least the exact one), the family-wise false-alarm
    rate of the pair is at most the sum of the two rates. To *test* a theory with samples at
    two or more sizes, :func:`size_agreement` (the extrapolated limit) has more power.
    """
    fit = size_fit(samples_by_size, axis)
    N = fit.sizes[-1] if N is None else float(N)
    return _slope_bound(fit, false_alarm) / N


def _slope_bound(fit: SizeFit, false_alarm: float) -> np.ndarray:
    """Simultaneous upper confidence bounds |β̂| + t·s.e. on |β| over all entries."""
    from scipy import stats

    m = max(int(np.sum(np.isfinite(fit.slope_se))), 1)
    return np.abs(fit.slope) + stats.t.isf(false_alarm / (2 * m), fit.slope_df) * fit.slope_se


def size_agreement(samples_by_size: Mapping[int, object], theory, false_alarm: float = 1e-3,
                   axis: int = 0) -> Agreement:
    r"""The policy's test of a simulation against the N → ∞ theory, the finite-N bias
    measured from the samples themselves.

    ``samples_by_size``: {N: samples (seeds on ``axis``, ...)} at two or more sizes; ``theory``
    broadcasts to the samples' entries (for runs compared with the ODE from their own
    initial state, pass the deviations sim − theory and ``theory = 0``). The seed means are
    extrapolated to N → ∞ along the law m_N = limit + β/N (:func:`size_fit`; with two sizes
    Richardson's (N₂m₂ − N₁m₁)/(N₂ − N₁)), and the null hypothesis of each entry is
    limit = theory, tested two-sided with Student's t (Welch degrees of freedom) and Holm's
    correction over all entries at the family-wise rate ``false_alarm``. The bias is thus
    measured, not guessed: the allowance is its fitted value, and its uncertainty is part of
    the standard error. Exact if the bias is β/N; its O(1/N²) remainder is what the chapter
    "Does the theory hold?" measures. Compared with :func:`agreement` at the largest size
    with :func:`bias_allowance` as allowance, the same rate needs a smaller deviation to
    reject (6.3 instead of 8.0 standard errors of the largest size's mean, plus the fitted
    bias, for sizes N/4 and N with 16 seeds each and three entries at 10⁻³). Returns an :class:`Agreement` over the
    entries, with excess = |limit − theory| and t = excess/s.e.
    """
    return size_fit(samples_by_size, axis).test("limit", theory, false_alarm)

def rms_over_seeds(dev) -> tuple[float, float]:
    """RMS of deviations ``dev`` (seeds, ...) over everything, and its standard error across
    seeds: the per-seed mean squares m_s have mean ms and s.e. σ_m/√n, and by the delta method
    s.e.(√ms) = s.e.(ms)/(2√ms)."""
    dev = np.asarray(dev, dtype=float)
    ms = np.mean(dev.reshape(dev.shape[0], -1) ** 2, axis=1)
    rms = float(np.sqrt(ms.mean()))
    return rms, float(seed_stats(ms).sem / (2 * rms))


# -- phases of a run --------------------------------------------------------------------------

@dataclass(frozen=True)
class Phases:
    """Boundaries (in α) of the four phases of a meta-training run.

    escape: end of the initial escape — the error has covered 90 % of its drop from ε_g(0)
    to the plateau level ``eg_plateau``; onset: the specialization index reaches
    ``levels[0]``; specialized: it reaches ``levels[1]`` (convergence follows).
    ``eg_plateau`` is the error where it changes slowest between the escape and the onset.
    """

    escape: float
    onset: float
    specialized: float
    eg_plateau: float
    levels: tuple[float, float] = (0.1, 0.9)


def phases(traj, levels: tuple[float, float] = (0.1, 0.9)) -> Phases:
    """The phases of a theory trajectory (no seed axis), from its error and its
    ``specialization`` observable. Raises ValueError if the run never specializes to
    ``levels[1]`` or has no plateau before the onset."""
    if traj.has_seeds:
        raise ValueError("phases needs one trajectory without a seed axis")
    alpha, eg = traj.alpha, traj.eg
    s = traj.observables["specialization"]
    onset, done = (float(crossing_time(alpha, s, lv)) for lv in levels)
    if not np.isfinite(done):
        raise ValueError(f"the run does not reach specialization index {levels[1]} by "
                         f"α = {alpha[-1]:g}")
    before = alpha < onset
    if before.sum() < 3:
        raise ValueError("no plateau before the onset of specialization")
    slope = np.abs(np.gradient(eg, alpha))
    first = np.argmax(eg < eg[0] - 0.5 * (eg[0] - eg[before].min()))   # past the steep drop
    window = np.arange(len(alpha))[before][np.arange(len(alpha))[before] >= first]
    eg_plateau = float(eg[window[np.argmin(slope[window])]])
    escape = float(crossing_time(alpha, -eg, -(eg_plateau + 0.1 * (eg[0] - eg_plateau))))
    return Phases(escape, onset, done, eg_plateau, levels)


# -- fits -------------------------------------------------------------------------------------

def fit_line(x, y, y_se=None, slope: float | None = None) -> tuple[float, float, float]:
    """Least-squares line y ≈ slope·x + intercept: (slope, s.e. of the slope, intercept).

    With ``y_se`` the fit is weighted by 1/y_se² and the slope's standard error is the
    propagated one, √(1/Σw(x − x̄)²); without it the fit is ordinary and the standard error
    comes from the residual scatter (n − 2 degrees of freedom). With ``slope`` given, only
    the intercept is fitted (the slope's standard error is then 0). Non-finite y are ignored.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    w = np.ones_like(y) if y_se is None else 1.0 / np.asarray(y_se, dtype=float)[ok] ** 2
    if slope is not None:
        return float(slope), 0.0, float(np.sum(w * (y - slope * x)) / np.sum(w))
    xm = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * y) / sxx)
    intercept = float(np.sum(w * y) / np.sum(w) - slope * xm)
    if y_se is not None:
        return slope, float(np.sqrt(1.0 / sxx)), intercept
    resid = y - (slope * x + intercept)
    sigma2 = float(np.sum(resid**2)) / (len(y) - 2) if len(y) > 2 else np.nan
    return slope, float(np.sqrt(sigma2 / sxx)), intercept


def loglog_slope(x, y, y_se) -> tuple[float, float]:
    """Slope of log y against log x and its standard error, weighted by 1/var(log y) with
    var(log y) ≈ (y_se/y)² (delta method)."""
    y = np.asarray(y, dtype=float)
    slope, se, _ = fit_line(np.log(np.asarray(x, dtype=float)), np.log(y),
                            np.asarray(y_se, dtype=float) / y)
    return slope, se


def fit_group_means(x, samples) -> tuple[float, float, float]:
    """Weighted line through the group means of ``samples`` (G, n) at x (G,), weights 1/s.e.²
    of each mean (:func:`seed_stats`): (slope, s.e. of the slope, intercept)."""
    st = seed_stats(np.asarray(samples, dtype=float), axis=1)
    return fit_line(x, st.mean, st.sem)


__all__ = ["SPEC_LEVEL", "crossing_time", "specialization_time", "SeedStats", "seed_stats",
           "format_pm", "t_halfwidth", "Agreement", "holm", "agreement", "SizeExtrapolation",
           "size_extrapolation", "SizeFit", "size_fit", "bias_allowance", "size_agreement",
           "rms_over_seeds", "Phases", "phases", "fit_line",
           "loglog_slope", "fit_group_means"]
