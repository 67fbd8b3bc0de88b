"""Playbooks: every shipped file loads, actions are chosen by conditions and priority, and a
bad file is refused with its name and the action."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.domain import ClientType, RiskLevel, Strategy
from bot.render import TEMPLATES_DIR
from bot.strategies.playbooks import (
    FACTS,
    LANGUAGES,
    PLAYBOOK_NAMES,
    PlaybookError,
    Situation,
    load_library,
    parse_playbook,
)

SHIPPED = TEMPLATES_DIR / "playbooks"


@pytest.fixture(scope="module")
def library():  # type: ignore[no-untyped-def]
    return load_library(SHIPPED)


def test_every_shipped_playbook_loads_in_both_languages(library) -> None:  # type: ignore[no-untyped-def]
    assert set(library.playbooks) == set(PLAYBOOK_NAMES)
    for name, actions in library.playbooks.items():
        assert actions, name
        for action in actions:
            for lang in LANGUAGES:
                assert action.title[lang].render(FACTS).strip()
                assert action.why[lang].render(FACTS).strip()


def keys(library, situation: Situation, strategy: Strategy, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.key for r in library.recommend(situation, strategy, "en", {}, **kw)]


def test_an_open_complaint_comes_before_any_offer(library) -> None:  # type: ignore[no-untyped-def]
    calm = Situation(client_type=ClientType.REGULAR, purchases=10, days_since_contact=5)
    upset = Situation(
        client_type=ClientType.REGULAR, purchases=10, days_since_contact=5, open_complaints=1
    )
    for strategy in Strategy:
        assert "resolve_complaint" not in keys(library, calm, strategy)
        assert keys(library, upset, strategy)[0] == "resolve_complaint"


def test_an_advocate_is_thanked_for_referrals(library) -> None:  # type: ignore[no-untyped-def]
    advocate = Situation(
        client_type=ClientType.ADVOCATE, referrals=3, purchases=20, days_since_contact=2
    )
    assert keys(library, advocate, Strategy.REWARD_INVEST)[0] == "referral_thanks"
    quiet = Situation(client_type=ClientType.BEST, purchases=20, days_since_contact=2)
    assert "referral_thanks" not in keys(library, quiet, Strategy.REWARD_INVEST)


def test_collect_with_an_unpaid_invoice_gets_late_fee_and_prepayment(library) -> None:  # type: ignore[no-untyped-def]
    debtor = Situation(client_type=ClientType.WORST, unpaid_invoices=1, purchases=8)
    assert keys(library, debtor, Strategy.COLLECT)[:3] == ["collect_debt", "late_fee", "prepayment"]
    paid_up = Situation(client_type=ClientType.WORST, purchases=8)
    assert "late_fee" not in keys(library, paid_up, Strategy.COLLECT)


def test_release_moves_to_self_service_and_ends_discounts(library) -> None:  # type: ignore[no-untyped-def]
    client = Situation(client_type=ClientType.WORST, purchases=6, days_since_contact=10)
    assert keys(library, client, Strategy.RELEASE)[:2] == ["self_service", "end_discounts"]


def test_segment_actions_follow_the_strategy(library) -> None:  # type: ignore[no-untyped-def]
    client = Situation(client_type=ClientType.WORST, purchases=6, days_since_contact=10)
    collect = keys(library, client, Strategy.COLLECT, limit=20)
    release = keys(library, client, Strategy.RELEASE, limit=20)
    assert "short_payment_terms" in collect and "short_payment_terms" not in release
    assert "minimum_order" in collect and "minimum_order" in release  # cost_cut, for both


def test_answered_actions_are_hidden_and_the_limit_holds(library) -> None:  # type: ignore[no-untyped-def]
    client = Situation(client_type=ClientType.WORST, unpaid_invoices=1, purchases=8)
    assert keys(library, client, Strategy.COLLECT, hidden={"collect_debt"}, limit=2) == [
        "late_fee",
        "prepayment",
    ]


def test_titles_use_the_clients_facts(library) -> None:  # type: ignore[no-untyped-def]
    client = Situation(client_type=ClientType.WORST, unpaid_invoices=1, purchases=8)
    facts = {"unpaid_amount": "41,000 ₽", "unpaid_days": "41"}
    first = library.recommend(client, Strategy.COLLECT, "en", facts)[0]
    assert first.title == "Call about the debt: 41,000 ₽, 41 days overdue — agree a payment date"
    russian = library.recommend(client, Strategy.COLLECT, "ru", facts)[0]
    assert russian.title.startswith("Позвонить по долгу: 41,000 ₽")


def test_conditions_on_risk_and_contact(library) -> None:  # type: ignore[no-untyped-def]
    slipping = Situation(
        client_type=ClientType.REGULAR,
        purchases=12,
        days_since_contact=60,
        risk_level=RiskLevel.HIGH,
    )
    chosen = keys(library, slipping, Strategy.REWARD_INVEST, limit=10)
    assert chosen.index("save_call") < chosen.index("check_in_call")
    never = Situation(client_type=ClientType.POTENTIAL)
    assert keys(library, never, Strategy.MANAGE)[:2] == ["first_order", "first_contact"]


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "playbooks"
    shutil.copytree(SHIPPED, target)
    return target


def test_a_bad_condition_names_the_file_and_the_action(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "collect.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("{refunds: true}", "{refundz: true}"),
        encoding="utf-8",
    )
    with pytest.raises(
        PlaybookError, match=r"collect\.yaml: action return_terms: unknown condition"
    ):
        load_library(folder)


def test_a_missing_language_or_a_broken_template_is_refused() -> None:
    one_language = {"actions": [{"key": "a", "priority": 1, "title": {"ru": "x"}, "why": {}}]}
    with pytest.raises(PlaybookError, match="action a: title needs exactly the languages ru, en"):
        parse_playbook("manage", one_language, "manage.yaml")
    broken = {
        "actions": [
            {
                "key": "a",
                "priority": 1,
                "title": {"ru": "{{ nope }}", "en": "x"},
                "why": {"ru": "x", "en": "x"},
            }
        ]
    }
    with pytest.raises(PlaybookError, match=r"action a: title\.ru: 'nope' is undefined"):
        parse_playbook("manage", broken, "manage.yaml")


def test_duplicate_keys_priorities_and_missing_files(tmp_path: Path) -> None:
    action = {
        "key": "a",
        "priority": 1,
        "title": {"ru": "x", "en": "x"},
        "why": {"ru": "x", "en": "x"},
    }
    with pytest.raises(PlaybookError, match="the key is used twice"):
        parse_playbook("manage", {"actions": [action, action]}, "manage.yaml")
    with pytest.raises(PlaybookError, match="priority must be a whole number"):
        parse_playbook("manage", {"actions": [{**action, "priority": "high"}]}, "manage.yaml")
    with pytest.raises(PlaybookError, match="has no actions"):
        parse_playbook("manage", {"actions": []}, "manage.yaml")
    folder = _copy(tmp_path)
    (folder / "loyalty.yaml").unlink()
    with pytest.raises(PlaybookError, match=r"loyalty\.yaml: missing"):
        load_library(folder)
