"""Risk signals, exclusions, levels and value at risk, on hand-made clients (pure, fast)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.domain import ClientType, RiskLevel, Strategy
from bot.strategies.config import DEFAULT, parse_config
from bot.strategies.model import Activity
from bot.strategies.risk import score_risk
from tests.strategies.support import rows, steady


def activity(n: int, p: float = 0.9, p30: float = float("nan"), value: float = 0.0) -> Activity:
    return Activity(
        p_alive=np.full(n, p),
        p_alive_30=np.full(n, p30),
        expected_purchases=np.zeros(n),
        value_if_alive=np.full(n, value),
    )


def score(
    *clients: dict,
    types: list[ClientType] | None = None,
    strategies: list[Strategy] | None = None,
    act: Activity | None = None,
    config=DEFAULT,  # type: ignore[no-untyped-def]
):  # type: ignore[no-untyped-def]
    table = rows(*clients)
    n = len(clients)
    kinds = np.array(types or [ClientType.AVERAGE] * n, dtype=object)
    chosen = np.array(strategies or [Strategy.MANAGE] * n, dtype=object)
    return score_risk(table, act or activity(n), config, kinds, chosen)


def keys(result, i: int = 0) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["key"] for r in result.reasons[i]]


def test_a_quiet_client_has_no_signals() -> None:
    result = score(steady(30, 8, contact_days_ago=3))
    assert result.score[0] == 0 and result.level[0] is RiskLevel.LOW
    assert keys(result) == ["risk_none"]


def test_cadence_counts_against_the_clients_own_gap() -> None:
    # Every 30 days, last purchase 105 days ago: 3.5 gaps, the full weight for a steady type.
    slipping = steady(30, 10, last=105, contact_days_ago=3)
    result = score(slipping, types=[ClientType.REGULAR])
    assert result.points["cadence"][0] == pytest.approx(DEFAULT.risk.weights.cadence)
    reason = result.reasons[0][0]
    assert reason["key"] == "risk_cadence"
    assert reason["params"] == {"days": 105, "gap": 30, "ratio": 3.5}
    assert reason["points"] == 45


def test_irregular_buyers_get_more_slack() -> None:
    client = steady(30, 10, last=105, contact_days_ago=3)
    steady_type = score(client, types=[ClientType.REGULAR]).points["cadence"][0]
    irregular = score(client, types=[ClientType.AVERAGE]).points["cadence"][0]
    assert steady_type == pytest.approx(45.0) and irregular == pytest.approx(7.5)


def test_low_p_alive_and_its_fall_over_30_days() -> None:
    act = activity(1, p=0.15, p30=0.75)
    result = score(steady(30, 10, contact_days_ago=3), act=act)
    assert result.points["p_alive"][0] == pytest.approx(20 * (0.6 - 0.15) / 0.6)
    assert result.points["p_alive_drop"][0] == pytest.approx(10.0)  # a 0.6 fall: in full
    drop = next(r for r in result.reasons[0] if r["key"] == "risk_p_alive_drop")
    assert drop["params"] == {"before": 0.75, "now": 0.15}


def test_revenue_of_the_last_90_days_against_the_90_before() -> None:
    client = {**steady(30, 10, contact_days_ago=3), "revenue_90": 10_000.0, "revenue_180": 50_000.0}
    result = score(client)
    # 10k against 40k: a 75 % fall, counted from 30 %, in full at 100 %.
    assert result.points["revenue_drop"][0] == pytest.approx(20 * (0.75 - 0.3) / 0.7)
    reason = next(r for r in result.reasons[0] if r["key"] == "risk_revenue_drop")
    assert reason["params"] == {"now": 10_000, "before": 40_000, "drop": 0.75}


def test_complaints_past_due_low_satisfaction_and_overdue_steps() -> None:
    client = {
        **steady(30, 10, contact_days_ago=3),
        "overdue_complaints": 3,
        "satisfaction_sum": 4.0,
        "satisfaction_n": 2,
        "overdue_steps": 1,
    }
    result = score(client)
    assert result.points["overdue_complaints"][0] == 20  # 10 each, at most the weight
    assert result.points["low_satisfaction"][0] == 10
    assert result.points["overdue_steps"][0] == 5
    assert result.score[0] == 35 and result.level[0] is RiskLevel.MEDIUM
    assert keys(result) == [
        "risk_overdue_complaints",
        "risk_low_satisfaction",
        "risk_overdue_steps",
    ]


def test_no_contact_matters_for_best_and_regular_clients_only() -> None:
    quiet = steady(30, 10, contact_days_ago=50)
    never = steady(30, 10)
    result = score(
        quiet,
        quiet,
        never,
        types=[ClientType.BEST, ClientType.SHOPPER, ClientType.REGULAR],
    )
    assert result.points["no_contact"].tolist() == [10.0, 0.0, 10.0]
    assert keys(result, 0) == ["risk_no_contact"]
    assert keys(result, 2) == ["risk_never_contacted"]


def test_levels_follow_the_configured_thresholds() -> None:
    client = {**steady(30, 10, contact_days_ago=3), "overdue_complaints": 2}  # 20 points
    assert score(client).level[0] is RiskLevel.LOW
    strict = parse_config({"risk": {"medium": 15, "high": 19}})
    assert score(client, config=strict).level[0] is RiskLevel.HIGH


def test_the_score_is_capped_at_100() -> None:
    client = {
        **steady(30, 10, last=400, contact_days_ago=100),
        "revenue_180": 90_000.0,
        "overdue_complaints": 5,
        "satisfaction_sum": 1.0,
        "satisfaction_n": 1,
        "overdue_steps": 4,
    }
    result = score(client, types=[ClientType.BEST], act=activity(1, p=0.0, p30=0.9))
    assert result.score[0] == 100 and result.level[0] is RiskLevel.HIGH


def test_new_released_and_archived_clients_are_not_flagged() -> None:
    troubled = {**steady(30, 10, last=120), "overdue_complaints": 3, "overdue_steps": 2}
    new = {**troubled, "created_days_ago": 10, "first_days_ago": 10, "last_days_ago": 5}
    archived = {**troubled, "archived": True}
    result = score(
        troubled,
        new,
        troubled,
        archived,
        types=[ClientType.REGULAR] * 4,
        strategies=[Strategy.MANAGE, Strategy.MANAGE, Strategy.RELEASE, Strategy.MANAGE],
        act=activity(4, p=0.5, value=100_000.0),
    )
    assert result.level[0] is RiskLevel.HIGH
    assert result.score.tolist()[1:] == [0, 0, 0]
    assert [r[0]["key"] for r in result.reasons[1:]] == [
        "risk_not_flagged_new",
        "risk_not_flagged_released",
        "risk_not_flagged_archived",
    ]
    assert result.value_at_risk.tolist()[1:] == [0.0, 0.0, 0.0]


def test_value_at_risk_is_expected_value_times_the_chance_of_leaving() -> None:
    result = score(steady(30, 10), act=activity(1, p=0.3, value=200_000.0))
    assert result.value_at_risk[0] == pytest.approx(140_000.0)


def test_reasons_come_strongest_first() -> None:
    client = {
        **steady(30, 10, last=105, contact_days_ago=3),
        "overdue_steps": 1,
        "revenue_90": 0.0,
        "revenue_180": 60_000.0,
    }
    result = score(client, types=[ClientType.REGULAR])
    points = [r["points"] for r in result.reasons[0]]
    assert points == sorted(points, reverse=True)
    assert keys(result)[0] == "risk_cadence"
