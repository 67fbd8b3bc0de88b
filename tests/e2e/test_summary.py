"""Supervisor summaries and exports end to end: figures on a known data set, drill-down, chart,
scope, and exported files."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from bot.domain import (
    ClientType,
    ComplaintStatus,
    RiskLevel,
    Role,
    Severity,
    Strategy,
)
from tests.e2e.conftest import NOW, BotUnderTest
from tests.factories import make_client, make_complaint, make_sale, make_staff

ADMIN, ANNA, BORIS, SVETA = 1, 2, 3, 4
T, S = ClientType, Strategy


@pytest.fixture
async def world(bot: BotUnderTest) -> None:
    day = (NOW - timedelta(days=40)).date()
    async with bot.db.session() as s:
        await make_staff(s, telegram_id=ADMIN, name="Ада", role=Role.ADMIN)
        anna = await make_staff(s, telegram_id=ANNA, name="Анна Петрова", team="Москва")
        boris = await make_staff(s, telegram_id=BORIS, name="Борис Орлов", team="Питер")
        await make_staff(s, telegram_id=SVETA, name="Света", role=Role.SUPERVISOR, team="Москва")
        rows = [
            # owner, type, strategy, revenue, margin, risk, value at risk
            (anna, T.BEST, S.REWARD_INVEST, "600000", "100000", RiskLevel.HIGH, "50000"),
            (anna, T.REGULAR, S.REWARD_INVEST, "300000", "60000", RiskLevel.LOW, None),
            (anna, T.SHOPPER, S.MANAGE, "100000", "10000", RiskLevel.MEDIUM, "5000"),
            (anna, T.WORST, S.RELEASE, "50000", "-20000", None, None),
            (boris, T.BEST, S.REWARD_INVEST, "1000000", "300000", RiskLevel.HIGH, "90000"),
        ]
        clients = []
        for owner, ctype, strategy, revenue, margin, risk, var in rows:
            client = await make_client(
                s,
                owner_id=owner.id,
                client_type=ctype,
                strategy=strategy,
                risk_level=risk,
                value_at_risk=Decimal(var) if var else None,
            )
            await make_sale(s, client, date=day, amount=Decimal(revenue), margin=Decimal(margin))
            clients.append(client)
        await make_complaint(s, clients[2], severity=Severity.HIGH, due_at=NOW - timedelta(hours=2))
        for client, score in ((clients[0], 4), (clients[1], 5)):
            await make_complaint(
                s,
                client,
                status=ComplaintStatus.RESOLVED,
                satisfaction=score,
                resolved_at=NOW - timedelta(days=20),
                due_at=NOW - timedelta(days=21),
            )


async def test_managers_are_refused(bot: BotUnderTest, world: None) -> None:
    reply = await bot.chat(ANNA).send("/summary")
    assert reply.text.startswith("Сводки доступны руководителям")


async def test_supervisor_sees_the_team_figures(bot: BotUnderTest, world: None) -> None:
    sveta = bot.chat(SVETA)
    text = (await sveta.send("/summary")).text
    assert text.startswith("📊 Сводка: команда «Москва»")
    assert "4 клиента" in text
    assert "Выручка за 12 мес.: 1\u00a0млн\u00a0₽, маржа 150\u00a0тыс.\u00a0₽" in text
    assert "«Лучший» клиент — 25\u00a0% · 57\u00a0% · 67\u00a0%" in text
    assert "«Худший» клиент — 25\u00a0% · 5\u00a0% · -13\u00a0%" in text
    assert "Вознаграждать и вкладывать — 50\u00a0% · 86\u00a0%" in text
    assert "Под риском ухода: 2 · под угрозой 55\u00a0тыс.\u00a0₽" in text
    assert "Рекламации: открыто 1, просрочено 1" in text
    assert "Удовлетворённость: 4,5 из 5 (2 оценок за год)" in text
    assert "Борис" not in text


async def test_drill_down_and_back(bot: BotUnderTest, world: None) -> None:
    sveta = bot.chat(SVETA)
    await sveta.send("/summary")
    narrowed = await sveta.click("«Лучший» клиент")
    assert narrowed.edits
    assert sveta.last.text.startswith("📊 Сводка: «Лучший» клиент")
    assert "1 клиент" in sveta.last.text
    await sveta.click("« Вся сводка")
    assert sveta.last.text.startswith("📊 Сводка: команда «Москва»")
    await sveta.click("Анна Петрова")
    assert sveta.last.text.startswith("📊 Сводка: Анна Петрова")


async def test_chart_is_a_real_png(bot: BotUnderTest, world: None) -> None:
    sveta = bot.chat(SVETA)
    await sveta.send("/summary")
    reply = await sveta.click("📈 График")
    photo = reply.last.photo
    assert photo is not None and photo.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(photo.data) > 5_000


async def test_admin_sees_everyone_and_narrows_by_argument(bot: BotUnderTest, world: None) -> None:
    admin = bot.chat(ADMIN, lang="en")
    text = (await admin.send("/summary")).text
    assert text.startswith("📊 Summary: all clients") and "5 clients" in text
    assert {"Москва", "Питер"} <= {b for row in admin.last.buttons for b, _ in row}
    best = (await admin.send("/summary best")).text
    assert best.startswith("📊 Summary: Best client") and "2 clients" in best
    team = await admin.click("« Whole summary")
    assert team.edits
    await admin.click("Питер")
    assert admin.last.text.startswith("📊 Summary: team “Питер”") and "1 client" in admin.last.text
    unknown = await admin.send("/summary <b>nobody</b>")
    assert "I did not understand “<b>nobody</b>”" in unknown.text


async def test_manager_gets_own_clients_as_csv(bot: BotUnderTest, world: None) -> None:
    reply = await bot.chat(ANNA).send("/export csv")
    document = reply.last.document
    assert document is not None and document.filename.endswith(".csv")
    assert reply.last.caption == "4 клиента"
    text = document.data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert table[0][:4] == ["ID", "Внешний ID", "Наименование", "Компания"]
    assert len(table) == 5
    assert {row[7] for row in table[1:]} == {"Анна Петрова"}
    assert {row[8] for row in table[1:]} == {"best", "regular", "shopper", "worst"}


async def test_supervisor_and_admin_exports_follow_scope(bot: BotUnderTest, world: None) -> None:
    team = (await bot.chat(SVETA).send("/export")).last.document
    assert team is not None and team.filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(team.data)).active
    assert sheet.max_row == 5  # header + the four clients of team Москва
    everyone = (await bot.chat(ADMIN, lang="en").send("/export best csv")).last
    assert everyone.caption == "2 clients"
    rows = list(csv.reader(io.StringIO(everyone.document.data.decode("utf-8-sig"))))
    assert rows[0][0] == "ID" and len(rows) == 3
    assert (await bot.chat(BORIS).send("/export csv")).last.caption == "1 клиент"
