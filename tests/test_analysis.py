"""metarep.analysis: crossing and specialization times, seed statistics, Student-t intervals,
Holm's correction, the theory-agreement test (its false-alarm rate measured by simulation),
phases of a run and line fits.

Conventions (one per idea, shared by every chapter): a crossing time is interpolated between
the two records that bracket the level, ``inf`` when the level is never reached (NaN records
never count) and ``alpha[0]`` when the run starts at or above it; the standard error of a
seed mean uses ddof = 1 and is NaN (never 0) for a single seed; NaN samples are left out.
"""

import numpy as np
import pytest
from scipy import stats

from metarep import analysis as an
from metarep.observables import specialization_index
from metarep.trajectory import Trajectory

from helpers import switching_run


# -- crossing and specialization times ----------------------------------------------------------

def test_crossing_time_interpolates_and_flags():
    alpha = np.array([0.0, 1.0, 2.0, 3.0])
    x = np.array([[0.0, 0.2, 0.6, 1.0],      # crosses ½ between 1 and 2, at 1.75
                  [0.0, 0.1, 0.2, 0.3],      # never: ∞
                  [0.7, 0.8, 0.9, 1.0]])     # already above at the start: alpha[0]
    t = an.crossing_time(alpha, x, 0.5)
    assert t[0] == pytest.approx(1.75, rel=1e-12)
    assert np.isposinf(t[1])
    assert t[2] == 0.0
    assert an.crossing_time(alpha, x[0], 0.5).shape == ()
    assert an.crossing_time(alpha + 2.0, x[2], 0.5) == 2.0         # alpha[0], not 0
    assert an.crossing_time(alpha, [0.0, 0.5, 0.6, 0.7], 0.5) == 1.0  # reaching = crossing


def test_specialization_time_interpolates_and_flags_never():
    """The cases of the hyper-parameter chapter's time to specialize (level ½)."""
    alpha = np.arange(5.0)
    index = np.array([[0.0, 0.2, 0.4, 0.8, 0.9],      # crosses 1/2 a quarter into [2, 3]
                      [0.0, 0.1, 0.1, 0.2, 0.3],      # never
                      [0.6, 0.7, 0.8, 0.9, 1.0],      # starts above
                      [0.0, np.nan, np.nan, np.nan, np.nan]])  # diverged: never
    t = an.specialization_time(alpha, index)
    assert an.SPEC_LEVEL == 0.5
    np.testing.assert_allclose(t[0], 2.25, rtol=1e-12)
    assert np.isposinf(t[1]) and t[2] == 0.0 and np.isposinf(t[3])
    np.testing.assert_allclose(an.specialization_time(alpha, index, level=0.85),
                               [3.0 + 0.5, np.inf, 2.0 + 0.5, np.inf], rtol=1e-12)


def test_nan_records_never_count():
    alpha = np.arange(4.0)
    # a NaN record before the crossing: no interpolation through it, the first record above
    assert an.crossing_time(alpha, [0.0, np.nan, 0.8, 0.9], 0.5) == 2.0
    # a run that diverged (NaN) after rising, without reaching the level: never
    assert np.isposinf(an.crossing_time(alpha, [0.1, 0.4, np.nan, np.nan], 0.5))
    # NaN at the start of a run that crosses later: interpolated from the finite records
    assert an.crossing_time(alpha, [np.nan, 0.0, 1.0, 1.0], 0.5) == pytest.approx(1.5)


def test_specialization_time_of_the_switching_run():
    """The run of the old task-variability test (index 0 up to α = 4, 1 from α = 5): the
    interpolated time is 4.5, between the two records (formerly the first record with
    s ≥ ½, 5.0); with seeds, one time per seed; ∞ for a level above 1."""
    one, three = switching_run(), switching_run(3)
    s = one.specialization()
    np.testing.assert_allclose(s, (one.alpha >= 5).astype(float), atol=1e-12)
    assert an.specialization_time(one.alpha, s) == pytest.approx(4.5, rel=1e-12)
    np.testing.assert_allclose(an.specialization_time(three.alpha, three.specialization()),
                               [4.5, 4.5, 4.5], rtol=1e-12)
    assert np.isposinf(an.specialization_time(one.alpha, s, level=1.1))


# -- seed statistics ------------------------------------------------------------------------

def test_seed_stats_mean_sem_and_count():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3, 2))
    st = an.seed_stats(x)
    np.testing.assert_allclose(st.mean, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(st.sem, x.std(axis=0, ddof=1) / np.sqrt(6), rtol=1e-13)
    np.testing.assert_array_equal(st.n, np.full((3, 2), 6))
    st1 = an.seed_stats(x, axis=1)
    np.testing.assert_allclose(st1.sem, x.std(axis=1, ddof=1) / np.sqrt(3), rtol=1e-13)


def test_seed_stats_one_seed_has_no_standard_error():
    st = an.seed_stats(np.array([[0.3, 0.5]]))
    np.testing.assert_array_equal(st.mean, [0.3, 0.5])
    assert np.all(np.isnan(st.sem)) and np.all(st.n == 1)


def test_seed_stats_ignores_nan_samples():
    x = np.array([[1.0, np.nan, np.nan],
                  [3.0, 2.0, np.nan],
                  [5.0, np.nan, np.nan]])
    st = an.seed_stats(x)
    np.testing.assert_array_equal(st.n, [3, 1, 0])
    np.testing.assert_allclose(st.mean[:2], [3.0, 2.0])
    assert np.isnan(st.mean[2])
    assert st.sem[0] == pytest.approx(2.0 / np.sqrt(3))       # std of 1, 3, 5 is 2
    assert np.isnan(st.sem[1]) and np.isnan(st.sem[2])


def test_format_pm_rounds_to_the_standard_error():
    assert an.format_pm(0.018930, 1.23e-5) == "0.018930 ± 0.000012"
    assert an.format_pm(0.0963, 0.00141) == "0.0963 ± 0.0014"
    assert an.format_pm(24.71, 2.04) == "24.7 ± 2.0"
    assert an.format_pm(1.064, 0.0103, digits=1) == "1.06 ± 0.01"
    assert an.format_pm(0.0012, 0.003, signed=True) == "+0.0012 ± 0.0030"
    assert an.format_pm(-0.0012, 0.003, signed=True) == "-0.0012 ± 0.0030"
    assert an.format_pm(1234.5, 120.0) == "1234 ± 120"
    assert an.format_pm(0.5, float("nan")) == "0.5 ± nan"


def test_t_halfwidth_is_scipys_student_quantile():
    sem = np.array([0.1, 0.2, 0.3, 0.4])
    n = np.array([2, 5, 30, 1])
    for conf in (0.68, 0.95, 0.999):
        got = an.t_halfwidth(sem, n, conf)
        want = stats.t.ppf(0.5 + conf / 2, n[:3] - 1) * sem[:3]
        np.testing.assert_allclose(got[:3], want, rtol=1e-12)
        assert np.isnan(got[3])                          # one seed: no interval


def test_rms_over_seeds_and_its_standard_error():
    rng = np.random.default_rng(3)
    dev = rng.normal(size=(5, 4, 3))
    rms, se = an.rms_over_seeds(dev)
    ms = np.mean(dev.reshape(5, -1) ** 2, axis=1)
    assert rms == pytest.approx(np.sqrt(np.mean(dev**2)), rel=1e-13)
    assert se == pytest.approx(ms.std(ddof=1) / np.sqrt(5) / (2 * np.sqrt(ms.mean())), rel=1e-12)


# -- multiple testing and the agreement test -----------------------------------------------

def test_holm_on_a_hand_made_example():
    # sorted 0.005 ≤ 0.05/4, 0.01 ≤ 0.05/3, 0.03 > 0.05/2: stop
    np.testing.assert_array_equal(an.holm([0.01, 0.04, 0.03, 0.005], 0.05),
                                  [True, False, False, True])
    # NaN p-values neither count in m nor are rejected: m = 2, 0.01 ≤ 0.025, 0.04 ≤ 0.05
    np.testing.assert_array_equal(an.holm([0.01, np.nan, 0.04], 0.05), [True, False, True])
    # the step-down stops at the first failure even if a later p-value would pass alone
    np.testing.assert_array_equal(an.holm([0.02, 0.02, 0.02], 0.05), [False, False, False])
    out = an.holm(np.array([[0.001, 0.5], [0.2, 0.01]]), 0.05)
    np.testing.assert_array_equal(out, [[True, False], [False, True]])


def _rejection_rate(shift: float, allowance: float, reps: int = 2000, n: int = 8,
                    entries: int = 1, false_alarm: float = 0.05, seed: int = 0) -> float:
    """Fraction of ``reps`` repetitions in which :func:`agreement` rejects anything, for n
    Gaussian samples (σ = 1) per entry with mean theory + allowance + shift (theory = 0.3)."""
    rng = np.random.default_rng(seed)
    theory = 0.3
    hits = 0
    for _ in range(reps):
        x = theory + allowance + shift + rng.standard_normal((n, entries))
        hits += not an.agreement(x, theory, allowance, false_alarm).ok
    return hits / reps


def _binomial_bound(rate: float, reps: int) -> float:
    """rate + 4 binomial standard errors of a rejection fraction over ``reps`` repetitions."""
    return rate + 4 * np.sqrt(rate * (1 - rate) / reps)


def test_agreement_false_alarm_rate_at_the_edge_of_the_allowance():
    """2000 repetitions of 8 samples whose mean is theory + allowance (the least favourable
    point of the null |E x − theory| ≤ allowance): the test rejects at most at the stated
    rate, within binomial error; it is not needlessly conservative either (≥ half of it)."""
    rate = _rejection_rate(0.0, allowance=1.0)
    assert 0.5 * 0.05 < rate <= _binomial_bound(0.05, 2000), rate


def test_agreement_family_wise_false_alarm_rate():
    """Ten entries at the edge of the allowance per repetition: Holm's correction keeps the
    probability of any rejection at most the stated rate."""
    rate = _rejection_rate(0.0, allowance=1.0, entries=10, seed=1)
    assert rate <= _binomial_bound(0.05, 2000), rate


def test_agreement_false_alarm_rate_without_allowance():
    """With no allowance (the default) the null is E x = theory; a deviation of either sign
    counts, so the stated rate must cover both tails."""
    rate = _rejection_rate(0.0, allowance=0.0, seed=2)
    assert rate <= _binomial_bound(0.05, 2000), \
        f"rejection rate {rate} at the null (two-sided deviations, one-sided p-value?)"


def test_agreement_rejects_a_shifted_mean():
    """A mean 1.5 σ beyond the allowance (8 samples) is rejected in most repetitions, and
    the reported excess and t are those of the sample."""
    assert _rejection_rate(1.5, allowance=1.0, reps=500, seed=4) > 0.9
    rng = np.random.default_rng(5)
    x = 2.0 + 0.3 * rng.standard_normal((8, 3))     # s.e. ≈ 0.1: entry 0 is 20 s.e. off
    ag = an.agreement(x, [0.0, 2.0, 2.0], [0.0, 0.0, 0.5], false_alarm=1e-3)
    st = an.seed_stats(x)
    np.testing.assert_allclose(ag.excess, np.abs(st.mean - [0.0, 2.0, 2.0]) - [0.0, 0.0, 0.5])
    np.testing.assert_allclose(ag.t, ag.excess / st.sem)
    # the composite null |E − θ| ≤ a: both least favourable points E = θ ± a contribute
    a = np.array([0.0, 0.0, 0.5])
    np.testing.assert_allclose(ag.p, stats.t.sf(ag.t, 7) + stats.t.sf(ag.t + 2 * a / st.sem, 7))
    assert ag.reject[0] and not ag.reject[1:].any() and not ag.ok and ag.worst == 0
    with pytest.raises(ValueError, match="two finite samples"):
        an.agreement(x[:1], 0.0)


def _two_size_runs(rng, n: int, b: float, N: float, ratio: float, d_inf: float = 0.0):
    """Deviations of n runs at N and n at N/ratio: mean d_inf + b/N, noise σ = 1/√N."""
    big = d_inf + b / N + rng.standard_normal((n, 3)) / np.sqrt(N)
    small = d_inf + b * ratio / N + rng.standard_normal((n, 3)) * np.sqrt(ratio / N)
    return big, small


def test_size_extrapolation_removes_a_one_over_n_bias():
    """A pure O(1/N) bias, 30 standard errors of the mean at N (8 runs per size): the
    extrapolated deviations pass agreement(·, 0) at the stated false-alarm rate (2000
    repetitions), the bias is measured without bias, and a deviation that survives N → ∞
    (the theory wrong by 3 s.e. of the extrapolation) is rejected in most repetitions."""
    rng = np.random.default_rng(6)
    n, N, ratio = 8, 400.0, 4.0
    b = 30 * np.sqrt(n) ** -1 * np.sqrt(N)        # bias b/N = 30 s.e. of the mean at N
    hits, biases = 0, []
    for _ in range(2000):
        big, small = _two_size_runs(rng, n, b, N, ratio)
        ex = an.size_extrapolation(big, small, ratio)
        hits += not an.agreement(ex.limit, 0.0, false_alarm=0.05).ok
        biases.append(ex.bias)
    assert hits / 2000 <= _binomial_bound(0.05, 2000), hits / 2000
    biases = np.array(biases)
    se = biases.std(ddof=1) / np.sqrt(biases.size)
    assert np.all(np.abs(biases.mean(axis=0) - b / N) < 4 * se)
    # power: d_inf = 3 standard errors of the extrapolated mean, √((ratio² + ratio)/n/N)/(r−1)
    d_inf = 3 * np.sqrt((ratio**2 + ratio) / (n * N)) / (ratio - 1)
    hits = sum(not an.agreement(an.size_extrapolation(*_two_size_runs(rng, n, b, N, ratio,
                                                                        d_inf), ratio).limit,
                                0.0, false_alarm=0.05).ok for _ in range(500))
    assert hits / 500 > 0.5, hits / 500
    # the bias alone (without extrapolation) is rejected: it is what the measurement removes
    big, small = _two_size_runs(rng, n, b, N, ratio)
    assert not an.agreement(big, 0.0, false_alarm=0.05).ok


def test_size_extrapolation_checks_its_input():
    x = np.zeros((8, 2))
    with pytest.raises(ValueError, match="same shape"):
        an.size_extrapolation(x, x[:4], 4.0)
    with pytest.raises(ValueError, match="ratio"):
        an.size_extrapolation(x, x, 1.0)
    ex = an.size_extrapolation(np.ones((2, 5)), 3 * np.ones((2, 5)), 2.0, axis=1)
    np.testing.assert_allclose(ex.limit, -np.ones((2, 5)))
    np.testing.assert_allclose(ex.bias, 2.0)



# -- the measured finite-N allowance ------------------------------------------------------------

def _biased_samples(rng, sizes, beta, limit=0.0, seeds=8, entries=3, sd=1.0):
    """{N: samples (seeds, entries)} with mean limit + beta/N and spread sd/√N per sample
    (the law of a seed mean of runs whose fluctuations are O(1/√N))."""
    return {N: limit + beta / N + sd / np.sqrt(N) * rng.standard_normal((seeds, entries))
            for N in sizes}


def test_size_fit_two_sizes_is_richardson():
    """With two sizes the fit passes through both means: β = (m₁ − m₂)/(1/N₁ − 1/N₂), the
    limit is Richardson's (N₂ m₂ − N₁ m₁)/(N₂ − N₁); standard errors and Welch's degrees of
    freedom as for that linear combination of two independent means."""
    rng = np.random.default_rng(11)
    data = {100: rng.normal(size=(6, 4)), 400: rng.normal(size=(9, 4))}
    fit = an.size_fit(data)
    s1, s2 = an.seed_stats(data[100]), an.seed_stats(data[400])
    c = 1 / (1 / 100 - 1 / 400)
    np.testing.assert_allclose(fit.slope, c * (s1.mean - s2.mean), rtol=1e-12)
    np.testing.assert_allclose(fit.limit, (400 * s2.mean - 100 * s1.mean) / 300, rtol=1e-10)
    np.testing.assert_allclose(fit.slope_se, c * np.hypot(s1.sem, s2.sem), rtol=1e-12)
    np.testing.assert_allclose(fit.limit_se, np.hypot(400 * s2.sem, 100 * s1.sem) / 300,
                               rtol=1e-10)
    v1, v2 = s1.sem**2, s2.sem**2
    np.testing.assert_allclose(fit.slope_df, (v1 + v2) ** 2 / (v1**2 / 5 + v2**2 / 8),
                               rtol=1e-12)
    u1, u2 = (100 / 300) ** 2 * v1, (400 / 300) ** 2 * v2
    np.testing.assert_allclose(fit.limit_df, (u1 + u2) ** 2 / (u1**2 / 5 + u2**2 / 8),
                               rtol=1e-10)
    np.testing.assert_array_equal(fit.sizes, [100, 400])
    np.testing.assert_allclose(fit.bias(200), fit.slope / 200)


def test_size_fit_recovers_an_exact_line_over_several_sizes():
    """Means exactly on limit + β/N (samples symmetric about them): the weighted fit returns
    β and the limit whatever the weights; seed axis other than 0."""
    base = np.array([-1.0, 1.0, -2.0, 2.0])[:, None]          # mean 0, 4 seeds
    data = {N: np.moveaxis(0.3 - 2.0 / N + base * (1 + N / 1000) * np.ones((1, 2)), 0, 1)
            for N in (125, 250, 1000)}
    fit = an.size_fit(data, axis=1)
    np.testing.assert_allclose(fit.slope, -2.0, rtol=1e-10)
    np.testing.assert_allclose(fit.limit, 0.3, rtol=1e-10)
    assert fit.mean.shape == (3, 2) and np.all(fit.slope_se > 0)


def test_size_fit_refuses_bad_input():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="two or more sizes"):
        an.size_fit({100: x})
    with pytest.raises(ValueError, match="different entries"):
        an.size_fit({100: x, 200: np.zeros((4, 3))})
    with pytest.raises(ValueError, match="two finite samples"):
        an.size_fit({100: x, 200: x[:1]})


def test_bias_allowance_covers_the_bias_at_its_stated_rate():
    """2000 repetitions, 3 entries, 8 seeds at N = 100 and 400, bias β/N with β = 50 (about
    ten standard errors of β̂): the allowance at N = 400 falls below the true bias β/400 of
    some entry in at most the stated fraction (0.05) of repetitions, within binomial error;
    it is not needlessly wide either (≥ a fifth of that rate: Bonferroni over the entries and
    the one-sided miss make it conservative). The allowance scales like 1/N."""
    rng = np.random.default_rng(12)
    reps, rate, beta = 2000, 0.05, 50.0
    miss = 0
    for _ in range(reps):
        a = an.bias_allowance(_biased_samples(rng, (100, 400), beta), false_alarm=rate)
        miss += bool(np.any(a < beta / 400))
    assert 0.2 * rate < miss / reps <= _binomial_bound(rate, reps), miss / reps
    data = _biased_samples(rng, (100, 400), beta)
    np.testing.assert_allclose(an.bias_allowance(data, N=800), an.bias_allowance(data) / 2)


def test_agreement_with_a_measured_allowance_keeps_the_summed_rate():
    """The allowance measured from samples at N = 100 and 400 and the agreement test at
    N = 400 on the same samples (rates 0.025 each), bias β/N with β = 50, three entries: the
    probability of any rejection is at most the sum, 0.05, within binomial error."""
    rng = np.random.default_rng(15)
    reps, hits = 2000, 0
    for _ in range(reps):
        data = _biased_samples(rng, (100, 400), 50.0, limit=0.7)
        a = an.bias_allowance(data, false_alarm=0.025)
        hits += not an.agreement(data[400], 0.7, a, 0.025).ok
    assert hits / reps <= _binomial_bound(0.05, reps), hits / reps


def test_size_agreement_family_wise_rate_with_a_bias():
    """Theory = the N → ∞ limit, bias β/N (β = 50), 3 entries, sizes 100 and 400 (8 and 12
    seeds): the extrapolated-limit test rejects anything in at most the stated rate of
    repetitions within binomial error, and not needlessly less (≥ a third of it)."""
    rng = np.random.default_rng(13)
    reps, rate = 2000, 0.05
    hits = 0
    for _ in range(reps):
        data = {100: _biased_samples(rng, (100,), 50.0, limit=0.7)[100],
                400: _biased_samples(rng, (400,), 50.0, limit=0.7, seeds=12)[400]}
        hits += not an.size_agreement(data, 0.7, rate).ok
    assert rate / 3 < hits / reps <= _binomial_bound(rate, reps), hits / reps


def test_size_agreement_detects_a_wrong_limit():
    """A theory off the limit by 10 standard errors of the seed mean at N = 1600 (16 seeds;
    sizes 400 and 1600) is rejected in most repetitions although the bias is unknown; the
    reported excess and t are those of Richardson's extrapolation."""
    rng = np.random.default_rng(14)
    N, seeds = 1600, 16
    off = 10 / np.sqrt(N) / np.sqrt(seeds)
    hits = sum(not an.size_agreement(_biased_samples(rng, (400, N), 50.0, seeds=seeds), off,
                                     1e-3).ok for _ in range(200))
    assert hits / 200 > 0.9, hits / 200
    data = _biased_samples(rng, (400, N), 50.0)
    ag = an.size_agreement(data, 0.1)
    fit = an.size_fit(data)
    np.testing.assert_allclose(ag.excess, np.abs(fit.limit - 0.1))
    np.testing.assert_allclose(ag.t, ag.excess / fit.limit_se)
    np.testing.assert_allclose(ag.p, 2 * stats.t.sf(ag.t, fit.limit_df))
    assert ag.p.shape == (3,) and ag.false_alarm == 1e-3
    # the slope test: t and p of β̂ against a given value
    sl = fit.test("slope", 50.0, 0.05)
    np.testing.assert_allclose(sl.t, np.abs(fit.slope - 50) / fit.slope_se)
    np.testing.assert_allclose(sl.p, 2 * stats.t.sf(sl.t, fit.slope_df))
    with pytest.raises(ValueError, match="limit"):
        fit.test("bias")


# -- phases ---------------------------------------------------------------------------------

def test_phases_of_a_synthetic_run():
    alpha = np.linspace(0, 60, 601)
    eg_plateau = 0.1
    eg = eg_plateau + 0.3 * np.exp(-alpha) - 0.09 / (1 + np.exp(-(alpha - 30) / 2))
    s = 1 / (1 + np.exp(-(alpha - 30) / 2))
    n = len(alpha)
    # cosines for s: unit k aligned with teacher k with c² − c'² = s
    c2 = (1 + s) / 2
    R = np.zeros((n, 2, 2))
    R[:, 0, 0] = R[:, 1, 1] = np.sqrt(c2)
    R[:, 0, 1] = R[:, 1, 0] = np.sqrt(1 - c2)
    Q = np.broadcast_to(np.eye(2), (n, 2, 2))
    tr = Trajectory(alpha, Q, R, np.zeros((n, 2)), eg, observables={"specialization": s})
    np.testing.assert_allclose(specialization_index(Q, R, np.eye(2)), s, atol=1e-12)
    ph = an.phases(tr)
    assert ph.onset == pytest.approx(30 - 2 * np.log(9), abs=0.01)        # s = 0.1
    assert ph.specialized == pytest.approx(30 + 2 * np.log(9), abs=0.01)  # s = 0.9
    assert ph.eg_plateau == pytest.approx(eg_plateau, abs=1e-3)
    assert ph.escape == pytest.approx(np.log(10), abs=0.05)   # 0.3 e^{-α} = 0.1·0.3
    with pytest.raises(ValueError, match="does not reach"):
        an.phases(tr.replace(observables={"specialization": 0.5 * s}))
    with pytest.raises(ValueError, match="without a seed axis"):
        an.phases(Trajectory(alpha, Q[None], R[None], np.zeros((1, n, 2)), eg[None],
                             observables={"specialization": s[None]}, seeds=[0]))


# -- fits -----------------------------------------------------------------------------------

def test_fit_line_ordinary_and_with_fixed_slope():
    x = np.linspace(0, 10, 6)
    t = 3.0 * x + 2.0
    t[2] = np.nan                                         # ignored
    slope, se, c = an.fit_line(x, t)
    assert (slope, c) == pytest.approx((3.0, 2.0))
    assert se == pytest.approx(0.0, abs=1e-12)            # exact line: no scatter
    assert an.fit_line(x, t, slope=3.0) == pytest.approx((3.0, 0.0, 2.0))
    # the ordinary s.e. is the textbook √(σ̂²/Σ(x − x̄)²) with n − 2 degrees of freedom
    y = np.array([1.0, 2.5, 2.9, 4.2, 5.1])
    xx = np.arange(5.0)
    slope, se, c = an.fit_line(xx, y)
    ref = stats.linregress(xx, y)
    assert slope == pytest.approx(ref.slope) and c == pytest.approx(ref.intercept)
    assert se == pytest.approx(ref.stderr, rel=1e-12)


def test_fit_group_means_recovers_line_and_error():
    """Exact means on a line; the slope's s.e. equals the textbook weighted formula."""
    x = np.array([0.0, 1.0, 2.0])
    dev = np.array([-1.0, 0.0, 1.0])                  # sample std 1, sem 1/√3 per group
    samples = (2.0 * x + 1.0)[:, None] + dev[None, :]
    slope, se, c = an.fit_group_means(x, samples)
    assert (slope, c) == pytest.approx((2.0, 1.0))
    assert se == pytest.approx(np.sqrt((1 / 3) / 2.0))  # σ²/Σ(x − x̄)²


def test_loglog_slope_recovers_power_law():
    N = np.array([100.0, 400.0, 1600.0])
    y = 3.0 * N**-0.5
    slope, se = an.loglog_slope(N, y, 0.05 * y)
    assert slope == pytest.approx(-0.5, abs=1e-12)
    # s.e. of the slope for equal relative errors r: r / sqrt(sum (ln N - mean)^2)
    lx = np.log(N)
    assert se == pytest.approx(0.05 / np.sqrt(np.sum((lx - lx.mean()) ** 2)))


def test_size_fit_with_two_sizes_is_richardsons_pairwise_extrapolation():
    """With two sizes N/r and N and equal numbers of runs, the fitted limit is the mean of the
    pairwise estimates (r·dev − dev_small)/(r − 1), and the bias at N is
    (mean_small − mean)/(r − 1), with the standard error of the difference of two independent
    means (the unpaired form of a two-size extrapolation)."""
    from metarep.analysis import seed_stats, size_fit

    rng = np.random.default_rng(4)
    small, large = rng.normal(0.3, 1.0, (8, 3)), rng.normal(0.1, 0.5, (8, 3))
    fit = size_fit({250: small, 1000: large})
    r = 4.0
    np.testing.assert_allclose(fit.limit, ((r * large - small) / (r - 1)).mean(axis=0))
    np.testing.assert_allclose(fit.bias(1000), (small.mean(0) - large.mean(0)) / (r - 1))
    se = np.hypot(seed_stats(small).sem, seed_stats(large).sem) / (r - 1)
    np.testing.assert_allclose(fit.bias_se(1000), se)
