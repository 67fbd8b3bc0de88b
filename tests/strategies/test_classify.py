"""Each classification rule and the strategy matrix, pinned on hand-made clients (pure, fast)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.domain import ClientType, SegmentStrategy, Strategy
from bot.strategies.classify import TYPE_ORDER, classify, profitability
from bot.strategies.config import DEFAULT, parse_config
from bot.strategies.model import Calibration
from tests.strategies.support import TODAY_N, rows, steady

# A fixed calibration: the rules are tested, not the fit.
CAL = Calibration(
    r=0.5,
    alpha=10.0,
    a=0.8,
    b=3.0,
    fitted=True,
    log_likelihood=None,
    recency_edges=(10.0, 30.0, 60.0, 120.0),
    frequency_edges=(1.0, 3.0, 6.0, 12.0),
    monetary_edges=(20_000.0, 60_000.0, 150_000.0, 400_000.0),
    future_value_edge=50_000.0,
    buyers=100,
)
PROFITABLE = {"revenue_12m": 240_000.0, "revenue_6m": 120_000.0, "margin_12m": 60_000.0}


def decide(*clients: dict, config=DEFAULT):  # type: ignore[no-untyped-def]
    return classify(rows(*clients), CAL, config)


def types(*clients: dict, config=DEFAULT) -> list[ClientType]:  # type: ignore[no-untyped-def]
    return list(decide(*clients, config=config).client_type)


def test_rules_are_tried_in_the_documented_order() -> None:
    assert TYPE_ORDER == (
        ClientType.WORST,
        ClientType.POTENTIAL,
        ClientType.ADVOCATE,
        ClientType.BEST,
        ClientType.REGULAR,
        ClientType.SHOPPER,
        ClientType.AVERAGE,
    )


# --- 1. worst ---------------------------------------------------------------------------------


def test_worst_when_complaints_and_bad_debt_eat_the_margin() -> None:
    client = steady(
        30,
        12,
        **{**PROFITABLE, "margin_12m": 5_000.0},
        purchases_12m=12,
        complaints_12m=3,
        complaints_medium=2,  # 2 × 2,000
        complaints_high=1,  # 5,000
        written_off_count=1,
        written_off_amount=20_000.0,
        unpaid_count=1,
        oldest_unpaid_due=TODAY_N - 41,
        referrals=2,  # would be an advocate: the worst rule comes first
    )
    decision = decide(client)
    assert decision.client_type[0] is ClientType.WORST
    assert decision.profit.net_margin[0] == 5_000 - 9_000 - 20_000
    reason = decision.reasons[0][0]
    assert reason["key"] == "worst"
    assert reason["params"]["margin"] == -24_000
    parts = {p["key"]: p for p in reason["parts"]}
    assert parts["part_complaints"]["n"] == 3
    assert parts["part_complaints"]["params"]["cost"] == 9_000
    assert parts["part_unpaid"]["params"] == {"days": 41, "amount": 20_000}


def test_worst_means_a_non_positive_net_margin() -> None:
    at_zero = steady(30, 6, purchases_12m=6, revenue_12m=60_000.0, margin_12m=0.0)
    just_above = {**at_zero, "margin_12m": 1.0}
    assert types(at_zero, just_above)[0] is ClientType.WORST
    assert types(at_zero, just_above)[1] is not ClientType.WORST


def test_sales_without_margin_are_assumed_to_earn_the_default_share() -> None:
    client = steady(30, 6, purchases_12m=6, revenue_12m=60_000.0, unknown_margin_12m=60_000.0)
    table = rows(client)
    assert profitability(table, DEFAULT).gross_margin[0] == pytest.approx(12_000.0)
    assert types(client)[0] is not ClientType.WORST


def test_a_quiet_year_without_losses_is_not_worst() -> None:
    # Nothing bought, nothing lost in 12 months: zero margin, but it costs nothing either.
    lapsed = {"purchase_days": 3, "purchases": 3, "first_days_ago": 700, "last_days_ago": 500}
    assert types(lapsed)[0] is not ClientType.WORST


def test_complaint_costs_come_from_the_configuration() -> None:
    client = steady(30, 6, purchases_12m=6, revenue_12m=60_000.0, margin_12m=3_000.0)
    client.update(complaints_12m=1, complaints_critical=1)
    cheap = parse_config({"classification": {"worst": {"complaint_cost": {"critical": 1000}}}})
    assert types(client)[0] is ClientType.WORST  # 12,000 by default
    assert types(client, config=cheap)[0] is not ClientType.WORST


# --- 2. potential -----------------------------------------------------------------------------


def test_potential_without_a_purchase_even_with_referrals() -> None:
    decision = decide({"referrals": 3, "created_days_ago": 12})
    assert decision.client_type[0] is ClientType.POTENTIAL
    assert decision.reasons[0][0] == {"key": "potential_lead", "params": {"days": 12}}


def test_potential_while_too_new_to_judge() -> None:
    new = {**steady(5, 2, last=2), "created_days_ago": 10, **PROFITABLE}
    older = {**new, "created_days_ago": 45, "first_days_ago": 40}
    assert types(new, older)[0] is ClientType.POTENTIAL
    assert types(new, older)[1] is not ClientType.POTENTIAL


# --- 3. advocate ------------------------------------------------------------------------------


def test_advocate_brought_clients_and_is_still_active() -> None:
    decision = decide({**steady(30, 10, **PROFITABLE), "referrals": 2})
    assert decision.client_type[0] is ClientType.ADVOCATE
    assert decision.reasons[0][0]["key"] == "advocate"
    assert decision.reasons[0][0]["n"] == 2


def test_a_lapsed_referrer_is_not_an_advocate() -> None:
    # One purchase 400 days ago: P(alive) = 0.5 ** (400 / 90) ≈ 0.05.
    gone = {"purchase_days": 1, "purchases": 1, "first_days_ago": 400, "last_days_ago": 400}
    assert types({**gone, "referrals": 2})[0] is not ClientType.ADVOCATE


# --- 4. best ----------------------------------------------------------------------------------


def test_best_is_top_in_recency_frequency_and_value() -> None:
    best = steady(15, 30, purchases_12m=24, revenue_12m=900_000.0, margin_12m=200_000.0)
    less_valuable = {**best, "revenue_12m": 300_000.0}  # value 4/5
    decision = decide(best, less_valuable)
    assert decision.client_type[0] is ClientType.BEST
    assert decision.client_type[1] is not ClientType.BEST
    assert (decision.scores.recency[0], decision.scores.frequency[0]) == (5, 5)
    assert decision.scores.monetary.tolist() == [5, 4]


def test_best_thresholds_are_configurable() -> None:
    client = steady(15, 30, purchases_12m=24, revenue_12m=300_000.0, margin_12m=70_000.0)
    lenient = parse_config({"classification": {"best": {"min_monetary_score": 4}}})
    assert types(client)[0] is not ClientType.BEST
    assert types(client, config=lenient)[0] is ClientType.BEST


# --- 5. regular -------------------------------------------------------------------------------


def test_regular_buys_at_a_steady_cadence() -> None:
    client = steady(30, 8, purchases_12m=8, revenue_12m=240_000.0, margin_12m=50_000.0)
    decision = decide(client)
    assert decision.client_type[0] is ClientType.REGULAR
    reason = decision.reasons[0][0]
    assert reason["key"] == "regular"
    assert reason["params"]["gap"] == 30 and reason["params"]["count"] == 8


def test_irregular_gaps_are_not_a_cadence() -> None:
    client = steady(30, 8, purchases_12m=8, revenue_12m=240_000.0, margin_12m=50_000.0)
    client["gap_sqsum"] = 7 * 30 * 30 * 1.5  # variation √0.5 ≈ 0.71
    assert types(client)[0] is ClientType.AVERAGE


def test_too_few_purchases_or_too_long_a_silence_is_not_regular() -> None:
    few = steady(30, 4, purchases_12m=4, revenue_12m=120_000.0, margin_12m=30_000.0)
    silent = steady(30, 8, last=200, purchases_12m=2, revenue_12m=60_000.0, margin_12m=9_000.0)
    assert types(few, silent) == [ClientType.AVERAGE, ClientType.AVERAGE]


# --- 6. shopper -------------------------------------------------------------------------------


def test_shopper_buys_rarely_and_mostly_on_discount() -> None:
    shopper = {
        "purchase_days": 3,
        "purchases": 3,
        "discounted": 3,
        "purchases_12m": 2,
        "first_days_ago": 300,
        "last_days_ago": 40,
        "revenue_12m": 16_000.0,
        "margin_12m": 2_000.0,
    }
    frequent = {**shopper, "purchases_12m": 20, "purchases": 30, "discounted": 25}
    half = {**shopper, "discounted": 1}
    assert types(shopper, frequent, half) == [
        ClientType.SHOPPER,
        ClientType.AVERAGE,
        ClientType.AVERAGE,
    ]


# --- 7. average -------------------------------------------------------------------------------


def test_average_is_everyone_else() -> None:
    client = {
        "purchase_days": 4,
        "purchases": 4,
        "purchases_12m": 3,
        "first_days_ago": 300,
        "last_days_ago": 50,
        "revenue_12m": 50_000.0,
        "margin_12m": 10_000.0,
    }
    decision = decide(client)
    assert decision.client_type[0] is ClientType.AVERAGE
    assert decision.reasons[0][0]["key"] == "average"


# --- the strategy matrix ----------------------------------------------------------------------


def test_profitable_now_and_later_is_reward_and_invest() -> None:
    decision = decide(steady(30, 8, purchases_12m=8, **PROFITABLE))
    assert decision.client_type[0] is ClientType.REGULAR
    assert decision.strategy[0] is Strategy.REWARD_INVEST
    assert decision.segment[0] is SegmentStrategy.LOYALTY
    assert decision.reasons[0][1]["key"] == "strategy_reward_invest"


def test_profitable_now_but_declining_is_manage() -> None:
    falling = steady(30, 8, purchases_12m=8, **PROFITABLE)
    falling["revenue_6m"] = 60_000.0  # 60k against 180k before: −67 %
    decision = decide(falling)
    assert decision.strategy[0] is Strategy.MANAGE
    assert decision.segment[0] is SegmentStrategy.STIMULATE
    parts = [p["key"] for p in decision.reasons[0][1]["parts"]]
    assert parts == ["part_decline"]


def test_an_average_client_of_modest_value_is_managed() -> None:
    client = {
        "purchase_days": 4,
        "purchases": 4,
        "purchases_12m": 3,
        "first_days_ago": 300,
        "last_days_ago": 50,
        "revenue_12m": 30_000.0,
        "revenue_6m": 15_000.0,
        "margin_12m": 3_000.0,
    }
    decision = decide(client)
    assert decision.strategy[0] is Strategy.MANAGE
    assert [p["key"] for p in decision.reasons[0][1]["parts"]] == ["part_low_value"]


def test_unprofitable_but_fixable_is_collect() -> None:
    client = steady(20, 10, purchases_12m=10, revenue_12m=200_000.0, margin_12m=30_000.0)
    client.update(written_off_count=1, written_off_amount=90_000.0, oldest_unpaid_due=TODAY_N - 66)
    decision = decide(client)
    assert decision.client_type[0] is ClientType.WORST
    assert decision.strategy[0] is Strategy.COLLECT
    assert decision.segment[0] is SegmentStrategy.COST_CUT
    reason = decision.reasons[0][1]
    assert reason["key"] == "strategy_collect"
    assert reason["params"]["gross"] == 30_000


def test_selling_below_cost_is_release() -> None:
    client = steady(25, 6, purchases_12m=6, revenue_12m=60_000.0, margin_12m=-12_000.0)
    decision = decide(client)
    assert decision.strategy[0] is Strategy.RELEASE
    assert decision.segment[0] is SegmentStrategy.COST_CUT
    assert [p["key"] for p in decision.reasons[0][1]["parts"]] == ["part_below_cost"]


def test_unprofitable_and_gone_is_release() -> None:
    client = {
        "purchase_days": 1,
        "purchases": 1,
        "first_days_ago": 300,
        "last_days_ago": 300,
        "complaints_12m": 1,
        "complaints_high": 1,
    }
    decision = decide(client)
    assert decision.strategy[0] is Strategy.RELEASE
    assert "part_not_alive" in [p["key"] for p in decision.reasons[0][1]["parts"]]


def test_potential_customers_are_managed_towards_a_first_order() -> None:
    decision = decide({"created_days_ago": 20})
    assert decision.strategy[0] is Strategy.MANAGE
    assert decision.reasons[0][1] == {"key": "strategy_potential"}


def test_quiet_but_active_is_managed() -> None:
    quiet = {"purchase_days": 3, "purchases": 3, "first_days_ago": 700, "last_days_ago": 400}
    alive_enough = parse_config({"classification": {"alive": {"p_alive_min": 0.0}}})
    decision = decide(quiet, config=alive_enough)
    assert decision.strategy[0] is Strategy.MANAGE
    assert decision.reasons[0][1]["key"] == "strategy_manage_idle"


def test_classification_is_deterministic() -> None:
    clients = [steady(30, 8, purchases_12m=8, **PROFITABLE), {"created_days_ago": 3}]
    first, second = decide(*clients), decide(*clients)
    assert list(first.client_type) == list(second.client_type)
    assert first.reasons == second.reasons
    assert np.array_equal(first.activity.p_alive, second.activity.p_alive, equal_nan=True)


def test_facts_are_added_only_when_asked() -> None:
    table = rows(steady(30, 8, purchases_12m=8, **PROFITABLE))
    assert len(classify(table, CAL, DEFAULT).reasons[0]) == 2
    keys = [r["key"] for r in classify(table, CAL, DEFAULT, facts=True).reasons[0][2:]]
    assert keys == ["fact_activity", "fact_money", "fact_rfm"]
