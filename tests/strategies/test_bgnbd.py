"""Tests for the BG/NBD model against the CDNOW results of Fader, Hardie & Lee (2005)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from bot.strategies.bgnbd import BGNBD

CDNOW_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cdnow_summary.csv"

# The paper's maximum-likelihood estimates on the CDNOW calibration sample (2,357 customers).
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LOG_LIKELIHOOD = -9582.4


def simulate(
    rng: np.random.Generator,
    ages: np.ndarray,
    horizon: float,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event-by-event BG/NBD draws: (frequency, recency) up to each age, then purchases after.

    Deliberately naive so it checks the model independently of any closed form.
    """
    n = ages.size
    rates = rng.gamma(r, 1.0 / alpha, size=n)
    dropouts = rng.beta(a, b, size=n)
    frequency, recency, later = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        now = 0.0
        while True:
            now += rng.standard_exponential() / rates[i]
            if now > ages[i] + horizon:
                break
            if now <= ages[i]:
                frequency[i] += 1
                recency[i] = now
            else:
                later[i] += 1
            if rng.random() < dropouts[i]:
                break
    return frequency, recency, later


def closed_form_p_alive(model: BGNBD, x: int, t_x: float, age: float) -> float:
    """Closed-form P(alive) written out with plain floats."""
    if x == 0:
        return 1.0
    odds = (model.a / (model.b + x - 1)) * ((model.alpha + age) / (model.alpha + t_x)) ** (
        model.r + x
    )
    return 1.0 / (1.0 + odds)


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDNOW calibration summaries (weeks), as used in the paper."""
    if not CDNOW_PATH.exists():
        pytest.skip(
            f"CDNOW reference data not found at {CDNOW_PATH}; it lives in ../shared/data beside "
            "the repo"
        )
    data = np.genfromtxt(CDNOW_PATH, delimiter=",", names=True)
    return data["frequency"], data["recency"], data["T"]


@pytest.fixture(scope="module")
def cdnow_model(cdnow: tuple[np.ndarray, np.ndarray, np.ndarray]) -> BGNBD:
    """Model fitted once on CDNOW for the whole module."""
    return BGNBD.fit(*cdnow)


@pytest.fixture(scope="module")
def published_model() -> BGNBD:
    """Model with the paper's rounded estimates, needing no data file."""
    return BGNBD(**PUBLISHED, log_likelihood=PUBLISHED_LOG_LIKELIHOOD)


def test_cdnow_fit_matches_published_estimates(
    cdnow: tuple[np.ndarray, np.ndarray, np.ndarray], cdnow_model: BGNBD
) -> None:
    assert cdnow[0].size == 2357
    assert cdnow_model.r == pytest.approx(PUBLISHED["r"], abs=0.005)
    assert cdnow_model.alpha == pytest.approx(PUBLISHED["alpha"], rel=0.01)
    assert cdnow_model.a == pytest.approx(PUBLISHED["a"], rel=0.01)
    assert cdnow_model.b == pytest.approx(PUBLISHED["b"], rel=0.01)
    assert cdnow_model.log_likelihood == pytest.approx(PUBLISHED_LOG_LIKELIHOOD, abs=0.5)


def test_fit_does_not_depend_on_starting_point(
    cdnow: tuple[np.ndarray, np.ndarray, np.ndarray], cdnow_model: BGNBD
) -> None:
    other = BGNBD.fit(*cdnow, initial=(2.0, 0.5, 3.0, 0.2))
    assert other.log_likelihood == pytest.approx(cdnow_model.log_likelihood, abs=1e-3)
    assert other.r == pytest.approx(cdnow_model.r, rel=1e-3)
    assert other.b == pytest.approx(cdnow_model.b, rel=1e-3)


def test_one_time_buyers_are_always_alive(published_model: BGNBD) -> None:
    ages = np.array([0.0, 1.0, 52.0, 1e4])
    alive = published_model.p_alive(np.zeros(4), np.zeros(4), ages)
    np.testing.assert_array_equal(alive, np.ones(4))


def test_lapsed_frequent_buyer_is_less_alive_than_recent_one(published_model: BGNBD) -> None:
    lapsed, recent = published_model.p_alive([10, 10], [5.0, 77.0], [78.0, 78.0])
    assert lapsed < 0.05 < 0.9 < recent


def test_p_alive_stays_in_unit_interval(cdnow_model: BGNBD) -> None:
    rng = np.random.default_rng(7)
    age = rng.uniform(0.0, 200.0, 5000)
    frequency = rng.integers(0, 300, 5000).astype(float)
    recency = np.where(frequency > 0, rng.uniform(0.0, 1.0, 5000) * age, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alive = cdnow_model.p_alive(frequency, recency, age)
    assert alive.dtype == np.float64
    assert np.all((alive >= 0.0) & (alive <= 1.0))


def test_p_alive_matches_closed_form(cdnow_model: BGNBD, published_model: BGNBD) -> None:
    customers = [(2, 30.43, 38.86), (1, 1.71, 38.86), (14, 20.0, 38.0), (0, 0.0, 38.86)]
    for x, t_x, age in customers:
        expected = closed_form_p_alive(cdnow_model, x, t_x, age)
        assert cdnow_model.p_alive(x, t_x, age) == pytest.approx(expected, rel=1e-12)
    # Customer 1 of CDNOW with the paper's estimates, worked by hand:
    # 1 / (1 + 0.793/3.426 * (43.274/34.844)^2.243) = 0.7266.
    assert published_model.p_alive(2, 30.43, 38.86) == pytest.approx(0.7266, abs=1e-4)


def test_p_alive_survives_extreme_histories(published_model: BGNBD) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Heavy buyers: one silent for 999 weeks, one who bought this week.
        history = ([5000, 5000], [1.0, 1000.0], [1000.0, 1000.0])
        alive = published_model.p_alive(*history)
        expected = published_model.expected_purchases(52.0, *history)
    assert alive[0] == pytest.approx(0.0, abs=1e-300)
    assert 0.999 < alive[1] <= 1.0
    assert np.all(np.isfinite(expected))
    assert expected[0] == pytest.approx(0.0, abs=1e-300)


def test_scalar_inputs_give_float_arrays(published_model: BGNBD) -> None:
    alive = published_model.p_alive(1, 2, 3)
    expected = published_model.expected_purchases(4, 1, 2, 3)
    new = published_model.expected_purchases_new(4)
    for result in (alive, expected, new):
        assert isinstance(result, np.ndarray)
        assert result.dtype == np.float64
        assert result.shape == ()


def test_expected_purchases_is_zero_now_and_grows_with_horizon(cdnow_model: BGNBD) -> None:
    horizons = np.linspace(0.0, 104.0, 53)
    for x, t_x, age in [(0, 0.0, 38.0), (2, 30.43, 38.86), (7, 10.0, 38.0)]:
        path = cdnow_model.expected_purchases(horizons, x, t_x, age)
        assert path[0] == 0.0
        assert np.all(np.diff(path) >= 0.0)
        assert path[-1] > 0.0


def test_expected_purchases_matches_paper_example(cdnow_model: BGNBD) -> None:
    # The paper's worked example: customer with x=2, t_x=30.43, T=38.86, next 39 weeks.
    assert cdnow_model.expected_purchases(39.0, 2, 30.43, 38.86) == pytest.approx(1.226, rel=0.01)


def test_expected_purchases_broadcasts_horizon_over_customers(published_model: BGNBD) -> None:
    frequency, recency, age = np.array([0, 2, 5]), np.array([0.0, 30.43, 12.0]), np.full(3, 38.86)
    together = published_model.expected_purchases(39.0, frequency, recency, age)
    one_by_one = [
        published_model.expected_purchases(39.0, *row)
        for row in zip(frequency, recency, age, strict=True)
    ]
    np.testing.assert_allclose(together, one_by_one, rtol=1e-12)


def test_new_customer_expectation_is_eq10_with_empty_history(published_model: BGNBD) -> None:
    horizons = np.array([0.0, 1.0, 39.0, 78.0])
    new = published_model.expected_purchases_new(horizons)
    conditional = published_model.expected_purchases(horizons, 0, 0.0, 0.0)
    np.testing.assert_allclose(new, conditional, rtol=1e-12)
    assert new[0] == 0.0
    assert np.all(np.diff(new) > 0.0)


def test_expectations_match_simulated_purchases(published_model: BGNBD) -> None:
    rng = np.random.default_rng(2005)
    params = {name: getattr(published_model, name) for name in PUBLISHED}
    horizon = 39.0

    # Unconditional eq. (7): brand-new customers observed for `horizon` weeks.
    _, _, bought = simulate(rng, np.zeros(20_000), horizon, **params)
    predicted_new = float(published_model.expected_purchases_new(horizon))
    assert abs(bought.mean() - predicted_new) < 4 * bought.std() / math.sqrt(bought.size)

    # Conditional eq. (10): by the law of total expectation its average is the mean of what
    # customers really buy next, whatever histories the simulation produced.
    ages = rng.uniform(1.0, 78.0, 20_000)
    frequency, recency, later = simulate(rng, ages, horizon, **params)
    gap = later - published_model.expected_purchases(horizon, frequency, recency, ages)
    assert abs(gap.mean()) < 4 * gap.std() / math.sqrt(gap.size)


def test_fit_recovers_simulated_parameters() -> None:
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.7, "b": 2.5}
    rng = np.random.default_rng(42)
    ages = rng.uniform(1.0, 78.0, 50_000)
    frequency, recency, _ = simulate(rng, ages, 0.0, **truth)
    model = BGNBD.fit(frequency, recency, ages)
    assert model.r == pytest.approx(truth["r"], rel=0.08)
    assert model.alpha == pytest.approx(truth["alpha"], rel=0.08)
    assert model.a == pytest.approx(truth["a"], rel=0.2)
    assert model.b == pytest.approx(truth["b"], rel=0.2)


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "message"),
    [
        ([1, 2], [1.0], [2.0, 3.0], "same shape"),
        ([-1], [0.0], [2.0], "non-negative integers"),
        ([1.5], [1.0], [2.0], "non-negative integers"),
        ([1], [-0.5], [2.0], "recency must be non-negative"),
        ([1], [3.0], [2.0], "must not exceed T"),
        ([0], [1.0], [2.0], "recency must be 0 where frequency is 0"),
        ([1], [np.nan], [2.0], "recency must be finite"),
        ([1], [1.0], [np.inf], "T must be finite"),
    ],
)
def test_invalid_histories_are_rejected(
    published_model: BGNBD, frequency: list, recency: list, age: list, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BGNBD.fit(frequency, recency, age)
    with pytest.raises(ValueError, match=message):
        published_model.p_alive(frequency, recency, age)
    with pytest.raises(ValueError, match=message):
        published_model.expected_purchases(1.0, frequency, recency, age)


def test_fit_rejects_empty_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        BGNBD.fit([], [], [])


def test_fit_rejects_bad_initial_guess() -> None:
    with pytest.raises(ValueError, match="initial"):
        BGNBD.fit([1, 0], [1.0, 0.0], [2.0, 2.0], initial=(1.0, -1.0, 1.0, 1.0))


def test_negative_horizon_is_rejected(published_model: BGNBD) -> None:
    with pytest.raises(ValueError, match="t must be"):
        published_model.expected_purchases(-1.0, 1, 1.0, 2.0)
    with pytest.raises(ValueError, match="t must be"):
        published_model.expected_purchases_new(-1.0)
