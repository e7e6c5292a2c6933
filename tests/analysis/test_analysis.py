"""Statistics against hand-computed cases, against scipy on the paper's published BPC, and bad input."""

import math

import numpy as np
import pytest
from scipy import stats

from compressiq.analysis.leaderboard import reference
from compressiq.analysis.stats import (
    band,
    bpc_interval,
    fit,
    fit_line,
    pearson,
    pearson_rows,
    ranks,
    spearman,
    spearman_rows,
)
from compressiq.errors import CompressiqError

X = np.array([1.0, 2.0, 3.0])
Y = np.array([2.0, 4.0, 7.0])


def paper(subset: str) -> np.ndarray:
    return np.array([e.bpc[subset] for e in reference("paper")])


def test_pearson_by_hand() -> None:
    # centred x = [-1, 0, 1], y = [-7/3, -1/3, 8/3]: r = 5 / sqrt(2 · 38/3)
    assert float(pearson_rows(X, Y)) == pytest.approx(5 / math.sqrt(2 * 38 / 3), rel=1e-12)
    assert float(pearson_rows(X, -Y)) == pytest.approx(-5 / math.sqrt(2 * 38 / 3), rel=1e-12)


def test_ranks_and_spearman_by_hand() -> None:
    assert ranks(np.array([10.0, 20.0, 20.0, 30.0])).tolist() == [1.0, 2.5, 2.5, 4.0]
    # no ties: rho = 1 - 6 Σd² / (n (n² - 1)) = 1 - 6 · 2 / 60 = 0.8
    assert float(spearman_rows(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4]))) == pytest.approx(0.8)


def test_line_and_rmse_by_hand() -> None:
    line = fit_line(X, Y)
    assert line.slope == pytest.approx(2.5)
    assert line.intercept == pytest.approx(-2 / 3)
    # residuals 1/6, -1/3, 1/6: RMSE = sqrt((1/36 + 1/9 + 1/36) / 3) = sqrt(1/18)
    assert line.rmse == pytest.approx(math.sqrt(1 / 18))
    assert line(np.array([4.0])).tolist() == pytest.approx([10 - 2 / 3])


def test_log_fit_wins_on_logarithmic_data() -> None:
    x = np.array([0.4, 0.5, 0.7, 0.9, 1.2])
    f = fit(x, 3 - 2 * np.log(x), resamples=500)
    assert f.logarithmic.rmse == pytest.approx(0, abs=1e-12)
    assert (f.logarithmic.slope, f.logarithmic.intercept) == pytest.approx((-2, 3))
    assert f.better == "logarithmic"
    assert fit(x, 3 - 2 * x, resamples=500).better == "linear"


def test_band_at_the_mean_is_t_times_standard_error() -> None:
    line = fit_line(X, Y)
    low, high = band(X, Y, line, np.array([2.0, 3.0]))
    s = line.rmse * math.sqrt(3 / 1)  # residual standard error, n - 2 = 1 degree of freedom
    assert (high[0] - low[0]) / 2 == pytest.approx(stats.t.ppf(0.975, 1) * s / math.sqrt(3))
    assert high[1] - low[1] > high[0] - low[0]  # wider away from the mean


def test_bpc_interval_sums_then_divides() -> None:
    # (20 bits, 10 chars) and (40 bits, 30 chars): 60 / 40 = 1.5, not the mean of ratios 1.667.
    bits, chars = np.array([20.0, 40.0]), np.array([10.0, 30.0])
    iv = bpc_interval(bits, chars, resamples=2000, seed=1)
    assert iv.value == 1.5
    # the only possible resamples: {1, 1} -> 2.0, {1, 2} -> 1.5, {2, 2} -> 80 / 60
    assert (iv.low, iv.high) == (pytest.approx(80 / 60), 2.0)


def test_bpc_interval_equals_a_naive_resampling_loop() -> None:
    rng = np.random.default_rng(7)
    chars = rng.integers(1, 5000, size=40).astype(float)
    bits = chars * rng.uniform(0.5, 1.5, size=40)
    iv = bpc_interval(bits, chars, resamples=300, seed=3)
    idx = np.random.default_rng(3).integers(0, 40, size=(300, 40))
    naive = [sum(bits[i] for i in row) / sum(chars[i] for i in row) for row in idx]
    assert (iv.low, iv.high) == pytest.approx(tuple(np.quantile(naive, [0.025, 0.975])), rel=1e-12)
    assert iv.low < iv.value < iv.high


PAIRS = [("cc", "python"), ("cc", "arxiv_math"), ("python", "arxiv_math")]


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_against_scipy_on_the_published_table(a: str, b: str) -> None:
    x, y = paper(a), paper(b)
    assert len(x) == 28
    f = fit(x, y, resamples=2000)
    assert f.pearson.value == pytest.approx(stats.pearsonr(x, y).statistic, rel=1e-12)
    assert f.spearman.value == pytest.approx(stats.spearmanr(x, y).statistic, rel=1e-12)
    lin, log = stats.linregress(x, y), stats.linregress(np.log(x), y)
    assert (f.linear.slope, f.linear.intercept) == pytest.approx((lin.slope, lin.intercept), rel=1e-9)
    assert (f.logarithmic.slope, f.logarithmic.intercept) == pytest.approx((log.slope, log.intercept), rel=1e-9)
    residuals = y - (lin.slope * x + lin.intercept)
    assert f.linear.rmse == pytest.approx(math.sqrt(np.mean(residuals**2)), rel=1e-9)
    assert f.pearson.low < f.pearson.value < f.pearson.high


def test_bootstrap_interval_agrees_with_scipy() -> None:
    x, y = paper("cc"), paper("python")
    ours = pearson(x, y, resamples=10_000, seed=0)
    theirs = stats.bootstrap(
        (x, y),
        lambda a, b, axis: pearson_rows(a, b),
        paired=True,
        vectorized=True,
        n_resamples=10_000,
        method="percentile",
        random_state=np.random.default_rng(0),
    ).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=0.02)
    assert ours.high == pytest.approx(theirs.high, abs=0.02)


def test_bootstrap_is_seeded() -> None:
    x, y = paper("cc"), paper("arxiv_math")
    assert spearman(x, y, 1000, seed=5) == spearman(x, y, 1000, seed=5)
    assert spearman(x, y, 1000, seed=5) != spearman(x, y, 1000, seed=6)


BAD = {
    "two models": (np.array([1.0, 2.0]), np.array([1.0, 2.0]), "at least 3 models"),
    "nan": (np.array([1.0, 2.0, math.nan]), Y, "finite"),
    "lengths": (np.array([1.0, 2.0, 3.0, 4.0]), Y, "one length"),
    "constant bpc": (np.array([1.0, 1.0, 1.0]), Y, "undefined"),
}


@pytest.mark.parametrize(("x", "y", "message"), BAD.values(), ids=BAD.keys())
def test_bad_input_is_refused(x: np.ndarray, y: np.ndarray, message: str) -> None:
    with pytest.raises(CompressiqError, match=message):
        pearson(x, y, resamples=100)


def test_line_through_constant_bpc_is_refused() -> None:
    with pytest.raises(CompressiqError, match="same BPC"):
        fit_line(np.array([1.0, 1.0, 1.0]), Y)
    with pytest.raises(CompressiqError, match="positive"):
        fit_line(np.array([0.0, 1.0, 2.0]), Y, log=True)
