"""How a digest looks: reasons in the reader's language, and Telegram's limits never exceeded."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot import i18n
from bot.domain import RiskLevel
from bot.i18n import Translator
from bot.messaging import plain
from bot.render import MAX_MESSAGE
from bot.services import digest_view
from bot.services.digest import Item, TeamPicture
from bot.services.digest_view import Page, ViewRef, keyboard, reason_text, render_text
from bot.strategies.alerting import Why
from db.repositories.alerts import AtRisk, Overdue, OwnerFigures


def client(n: int, *, name: str | None = None, reasons: list[Any] | None = None) -> AtRisk:
    return AtRisk(
        id=10**11 + n,
        name=name or f"Клиент {n}",
        company=None,
        owner_id=1,
        owner="Анна Петрова",
        level=RiskLevel.HIGH,
        score=81,
        reasons=reasons if reasons is not None else [{"key": "unknown_to_the_catalogue"}],
        value_at_risk=Decimal("1234567.89"),
    )


@pytest.fixture
def extra_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reason text in the catalogues, as the strategy engine's catalogue will have."""
    original = i18n.catalog

    def catalog(lang: str) -> dict[str, Any]:
        texts = dict(original(lang))
        texts["reason.test_gap"] = {"one": "{n} покупка, пауза {days} дн.", "other": "{n} x {days}"}
        return texts

    monkeypatch.setattr(i18n, "catalog", catalog)
    monkeypatch.setattr(digest_view, "catalog", catalog)


def test_the_main_reason_comes_from_the_catalogue(extra_reasons: None) -> None:
    t = Translator("ru")
    first = {"key": "test_gap", "n": 1, "params": {"days": 90}}
    assert reason_text(t, client(1, reasons=[first, {"key": "other"}])) == "1 покупка, пауза 90 дн."
    # Parameters that do not fit the text fall back to the level and score instead of failing.
    broken = {"key": "test_gap", "n": 1, "params": {}}
    assert reason_text(t, client(2, reasons=[broken])) == "риск ухода: высокий (81/100)"


def test_without_a_catalogue_text_the_level_and_score_stand_in() -> None:
    t = Translator("en")
    assert reason_text(t, client(1)) == "churn risk high (81/100)"
    assert reason_text(t, client(2, reasons=[])) == "churn risk high (81/100)"
    assert reason_text(t, client(3, reasons=["junk"])) == "churn risk high (81/100)"


def test_view_references_round_trip() -> None:
    for ref in (ViewRef(page=3), ViewRef(page=1, delivery_id=10**12 - 1)):
        assert ViewRef.parse(ref.code) == ref
    assert ViewRef.parse("x1") is None and ViewRef.parse("d1") is None


def test_the_largest_digest_fits_one_message_and_one_keyboard() -> None:
    long = "Общество с ограниченной ответственностью «Очень длинное название» " * 3
    items = [Item(client(n, name=f"{long}{n}"), Why.NEW) for n in range(10)]
    owners = [
        OwnerFigures(n, f"{long[:90]} {n}", 10_000 + n, 5_000, Decimal("987654321.12"))
        for n in range(60)
    ]
    overdue = [
        Overdue(n, 10**11 + n, long, long[:80], datetime(2026, 11, 19, tzinfo=UTC))
        for n in range(8)
    ]
    page = Page(
        kind="digest",
        day=date(2026, 11, 20),
        items=items,
        page=1,
        total=250,
        quiet=99_999,
        team=TeamPicture(owners=owners, overdue=overdue, overdue_total=120),
        team_name=long[:100],
        delivery_id=10**12 - 1,
    )
    for lang in ("ru", "en"):
        text = render_text(page, lang, "Europe/Moscow")
        assert len(text) <= MAX_MESSAGE
        assert "10. " in plain(text)  # trimmed from the team lines, never from the clients
        markup = keyboard(page, lang)
        assert markup is not None
        buttons = [b for row in markup.inline_keyboard for b in row]
        assert len(buttons) <= 100
        assert all(len((b.callback_data or "").encode()) <= 64 for b in buttons)  # type: ignore[arg-type]
