"""P(alive) for repeat and one-time buyers, RFM quintiles, and the stored calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.strategies import rfm
from bot.strategies.classify import profitability
from bot.strategies.config import DEFAULT, parse_config
from bot.strategies.model import Calibration, activity, calibrate, fit_model
from tests.strategies.support import rows, steady


def test_quintile_scores() -> None:
    cut = rfm.edges(np.arange(1, 101, dtype=float))
    assert cut == pytest.approx((20.8, 40.6, 60.4, 80.2))
    assert rfm.score_higher_better(np.array([1.0, 21.0, 50.0, 81.0]), cut).tolist() == [1, 2, 3, 5]
    # Recency: fewer days since the last purchase is better.
    assert rfm.score_lower_better(np.array([1.0, 21.0, 50.0, 81.0]), cut).tolist() == [5, 4, 3, 1]
    assert rfm.edges(np.array([])) == rfm.NO_EDGES


def test_one_time_buyers_fade_by_the_half_life() -> None:
    table = rows(
        {"purchase_days": 1, "purchases": 1, "first_days_ago": 90, "last_days_ago": 90},
        {"purchase_days": 1, "purchases": 1, "first_days_ago": 180, "last_days_ago": 180},
        {},
    )
    cal = _calibration(table)
    act = activity(table, cal, DEFAULT)
    assert act.p_alive[:2] == pytest.approx([0.5, 0.25])
    assert math.isnan(act.p_alive[2])  # no purchase: P(alive) does not apply
    # 30 days ago the same purchase was 30 days fresher.
    assert act.p_alive_30[:2] == pytest.approx([0.5 ** (60 / 90), 0.5 ** (150 / 90)])


def test_a_recent_purchase_resets_the_drop_signal() -> None:
    table = rows(steady(30, 10, last=5), steady(30, 10, last=60))
    act = activity(table, _calibration(table), DEFAULT)
    assert math.isnan(act.p_alive_30[0])
    assert not math.isnan(act.p_alive_30[1])
    assert act.p_alive_30[1] >= act.p_alive[1]  # silence only lowers P(alive)


def test_repeat_buyers_use_bgnbd_and_silence_lowers_it() -> None:
    spent = {"purchase_amount": 100_000.0}  # 10,000 a purchase day
    table = rows(steady(30, 10, last=5, **spent), steady(30, 10, last=150, **spent))
    act = activity(table, _calibration(table), DEFAULT)
    assert act.p_alive[0] > act.p_alive[1]
    # Value if the client stays: expected purchases (given alive) × the average purchase.
    assert act.value_if_alive[0] == pytest.approx(act.expected_purchases[0] / act.p_alive[0] * 1e4)


def test_small_bases_use_the_configured_model() -> None:
    table = rows(*[steady(30, 5)] * 3)
    model, fitted = fit_model(table, DEFAULT, None)
    assert not fitted
    assert (model.r, model.alpha, model.a, model.b) == (0.5, 10.0, 0.8, 3.0)
    custom = parse_config({"model": {"default_r": 1.5}})
    assert fit_model(table, custom, None)[0].r == 1.5


def test_a_large_enough_base_is_fitted() -> None:
    rng = np.random.default_rng(3)
    clients = [
        steady(float(gap), int(n), last=float(last))
        for gap, n, last in zip(
            rng.integers(10, 60, 200),
            rng.integers(2, 15, 200),
            rng.integers(1, 200, 200),
            strict=True,
        )
    ]
    table = rows(*clients)
    model, fitted = fit_model(table, DEFAULT, None)
    assert fitted and model.log_likelihood < 0


def test_calibration_round_trips_through_json() -> None:
    table = rows(
        steady(30, 8, purchases_12m=8, revenue_12m=100.0), steady(10, 30, purchases_12m=30)
    )
    cal = _calibration(table)
    assert Calibration.from_json(cal.as_json()) == cal
    assert cal.buyers == 2


def _calibration(table) -> Calibration:  # type: ignore[no-untyped-def]
    return calibrate(table, DEFAULT, net_margin_12m=profitability(table, DEFAULT).net_margin)
