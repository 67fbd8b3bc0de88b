"""Every reason the engine can store renders in both languages, its figures formatted."""

from __future__ import annotations

import numpy as np
import pytest

from bot.domain import ClientType, Strategy
from bot.messaging import plain
from bot.render import render
from bot.strategies.classify import classify
from bot.strategies.config import DEFAULT
from bot.strategies.model import Activity
from bot.strategies.risk import score_risk
from tests.strategies.support import rows, steady
from tests.strategies.test_classify import CAL, PROFITABLE


def every_reason() -> list[dict]:
    """Clients chosen to hit every rule, strategy branch, fact and risk signal."""
    clients = [
        steady(30, 12, **{**PROFITABLE, "margin_12m": 1_000.0}, purchases_12m=12, complaints_12m=2,
               complaints_high=2, written_off_count=2, written_off_amount=9_000.0,
               oldest_unpaid_due=20_700.0, refunds_12m=500.0),  # worst → collect
        steady(25, 6, purchases_12m=6, revenue_12m=60_000.0, margin_12m=-12_000.0),  # release
        {"created_days_ago": 12},  # potential lead
        {**steady(5, 2, last=2), "created_days_ago": 10},  # too new
        {**steady(30, 10, **PROFITABLE), "referrals": 1},  # advocate
        steady(15, 30, purchases_12m=24, revenue_12m=900_000.0, margin_12m=200_000.0),  # best
        {**steady(30, 8, purchases_12m=8, **PROFITABLE), "revenue_6m": 60_000.0},  # declining
        {"purchase_days": 3, "purchases": 3, "discounted": 3, "purchases_12m": 2,
         "first_days_ago": 300, "last_days_ago": 40, "revenue_12m": 16_000.0,
         "margin_12m": 2_000.0},  # shopper
        {"purchase_days": 1, "purchases": 1, "first_days_ago": 20, "last_days_ago": 20,
         "created_days_ago": 300, "margin_12m": 3_000.0, "purchases_12m": 1,
         "revenue_12m": 9_000.0},  # one-time buyer
        {**steady(30, 10, last=120, contact_days_ago=60), "revenue_90": 0.0,
         "revenue_180": 50_000.0, "overdue_complaints": 1, "satisfaction_sum": 1.0,
         "satisfaction_n": 1, "overdue_steps": 2},  # every risk signal
        {**steady(30, 10), "archived": True},
    ]  # fmt: skip
    table = rows(*clients)
    decisions = classify(table, CAL, DEFAULT, facts=True)
    n = len(clients)
    types = np.array([ClientType.REGULAR] * n, dtype=object)
    strategies = decisions.strategy.copy()
    strategies[9] = Strategy.MANAGE  # the one with every signal: flagged whatever it computes
    risk = score_risk(table, _activity(n), DEFAULT, types, strategies)
    no_contact = score_risk(
        rows(steady(30, 10)),
        _activity(1),
        DEFAULT,
        types[:1],
        np.array([Strategy.MANAGE], dtype=object),
    )
    out = [r for own in decisions.reasons for r in own]
    out += [r for own in risk.reasons for r in own] + no_contact.reasons[0]
    return out


def _activity(n: int) -> Activity:
    return Activity(
        p_alive=np.full(n, 0.2),
        p_alive_30=np.full(n, 0.8),
        expected_purchases=np.ones(n),
        value_if_alive=np.full(n, 1e5),
    )


REASONS = every_reason()


def test_the_engine_produced_every_kind_of_reason() -> None:
    keys = {r["key"] for r in REASONS}
    for expected in (
        "worst", "potential_lead", "potential_new", "advocate", "best", "regular", "shopper",
        "average", "strategy_collect", "strategy_release", "strategy_potential",
        "strategy_reward_invest", "strategy_manage", "fact_one_time", "fact_activity",
        "fact_money", "fact_rfm", "risk_cadence", "risk_p_alive", "risk_p_alive_drop",
        "risk_revenue_drop", "risk_overdue_complaints", "risk_low_satisfaction",
        "risk_overdue_steps", "risk_no_contact", "risk_never_contacted", "risk_not_flagged_new",
        "risk_not_flagged_released", "risk_not_flagged_archived",
    ):  # fmt: skip
        assert expected in keys, expected


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_reason_renders(lang: str) -> None:
    for reason in REASONS:
        text = plain(render("reason", lang, r=reason))
        assert text and "reason." not in text and "{" not in text, (reason, text)
        assert "type." not in text and "nan" not in text.lower(), (reason, text)


def test_money_and_shares_are_formatted_for_the_reader() -> None:
    worst = next(r for r in REASONS if r["key"] == "worst")
    assert plain(render("reason", "en", r=worst)).startswith("12-month margin -18,000\u00a0₽ after")
    assert plain(render("reason", "ru", r=worst)).startswith("Маржа за 12 мес. -18\u00a0000\u00a0₽")
    drop = next(r for r in REASONS if r["key"] == "risk_p_alive_drop")
    assert plain(render("reason", "en", r=drop)) == "P(alive) fell from 80% to 20% in 30 days"


def test_russian_referral_counts_agree() -> None:
    from bot.i18n import Translator

    t = Translator("ru")
    assert t("reason.advocate", n=1, p="90%").startswith("Привёл 1 клиента")
    assert t("reason.advocate", n=4, p="90%").startswith("Привёл 4 клиента")
    assert t("reason.advocate", n=5, p="90%").startswith("Привёл 5 клиентов")
