"""The morning digest end to end: the real bot, the loopback Bot API, a clock moved by hand."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.app import build_application
from bot.domain import ComplaintStatus, RiskLevel, Role, Severity
from bot.handlers.alerts import FIRST_TICK_SECONDS, JOB_NAME, TICK_SECONDS
from bot.sandbox import ChatMessage
from bot.services.delivery import Outcome
from db.models import Staff
from db.models.alerts import DeliveryStatus
from db.repositories import alerts as repo
from db.session import Database
from tests.alerts_support import (
    FAST,
    Clock,
    at_risk_client,
    day,
    ledger,
    memory,
    moscow,
    run,
    set_risk,
)
from tests.e2e.conftest import NOW, BotUnderTest
from tests.factories import make_complaint, make_staff

HIGH, MEDIUM, LOW = RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW
ADMIN, SVETA, ANNA, BORIS = 1, 2, 3, 4
FRIDAY_9 = moscow("2026-11-20 09:00")


@pytest.fixture
def clock() -> Clock:
    """Overrides the fixed clock of tests/e2e/conftest.py with one the tests can move."""
    return Clock(NOW)


@pytest.fixture
async def people(bot: BotUnderTest) -> dict[str, int]:
    async with bot.db.session() as s:
        ada = await make_staff(s, telegram_id=ADMIN, name="Ада Админ", role=Role.ADMIN)
        sveta = await make_staff(
            s, telegram_id=SVETA, name="Света Лебедева", role=Role.SUPERVISOR, team="Москва"
        )
        anna = await make_staff(s, telegram_id=ANNA, name="Анна Петрова", team="Москва")
        boris = await make_staff(s, telegram_id=BORIS, name="Борис Орлов", team="Питер")
        ids = {"ada": ada.id, "sveta": sveta.id, "anna": anna.id, "boris": boris.id}
    for telegram_id, name in ((ADMIN, "Ada"), (SVETA, "Sveta"), (ANNA, "Anna"), (BORIS, "Boris")):
        bot.chat(telegram_id, name)
    return ids  # type: ignore[return-value]


async def deliver(bot: BotUnderTest, when: str, **options: object):  # type: ignore[no-untyped-def]
    return await run(bot.app.bot, bot.db, bot.app.services.settings, moscow(when), **options)


def digests(bot: BotUnderTest, telegram_id: int) -> list[ChatMessage]:
    return [m for m in bot.server.messages(telegram_id) if m.content.startswith("🔔")]


def datas(message: ChatMessage) -> list[str]:
    return [b.data or "" for row in message.buttons for b in row]


async def test_a_manager_gets_the_top_ten_by_value_at_risk(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        for i in range(12):
            level = HIGH if i % 2 else MEDIUM
            await at_risk_client(
                s, people["anna"], level, 50 + i, 10_000 * (i + 1), name=f"Клиент {i:02d}"
            )
        await at_risk_client(s, people["anna"], LOW, 20, 999_999, name="Спокойный")
        await at_risk_client(s, people["anna"], HIGH, 90, name="В архиве", status="archived")
        await at_risk_client(s, people["boris"], LOW, 10, name="Борисов клиент")
    report = await deliver(bot, "2026-11-20 09:00", staff_ids=[people["anna"], people["boris"]])
    assert report[Outcome.SENT] == 1 and report[Outcome.SKIPPED] == 1
    [message] = bot.server.messages(ANNA)
    text = message.content
    assert "12 клиентов требуют внимания" in text
    assert text.index("Клиент 11") < text.index("Клиент 10") < text.index("Клиент 02")
    assert "Клиент 01" not in text and "Спокойный" not in text and "В архиве" not in text
    # The strategy engine's reason.* texts are not there yet: the level and score stand in.
    assert "риск ухода: высокий (61/100)" in text and "🆕 новый" in text
    assert "под угрозой: 120\xa0000\xa0₽" in text
    assert len(message.html) <= 4096
    labels = [b.text for row in message.buttons for b in row]
    assert labels[0].startswith("1. Клиент 11") and "📞 Записать звонок" in labels
    assert labels.count("💤 7 дн.") == 10 and "Показать все (12) »" in labels
    assert all(len(d.encode()) <= 64 for d in datas(message))
    assert bot.server.messages(BORIS) == []  # nothing at risk: no message at all
    rows = {row.staff_id: row for row in await ledger(bot.db)}
    assert rows[people["anna"]].status == DeliveryStatus.SENT
    assert rows[people["anna"]].message_id == message.message_id
    assert rows[people["boris"]].status == DeliveryStatus.SKIPPED

    anna = bot.chat(ANNA, "Anna")
    second = await anna.click("Показать все (12) »")
    page = second.edits[0]
    assert page.message_id == message.message_id  # paged in place
    assert (
        "11. " in page.content and "Клиент 00" in page.content and "Клиент 11" not in page.content
    )
    back = await anna.click("« Назад")
    assert "Клиент 11" in back.edits[0].content


async def test_supervisors_get_their_teams_picture(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        for value in (300_000, 200_000, 100_000):
            await at_risk_client(s, people["anna"], HIGH, 80, value)
        risky = await at_risk_client(s, people["boris"], MEDIUM, 40, 50_000, name="Питерский")
        mine = await at_risk_client(s, people["anna"], LOW, 10, name="ООО «Сломано»")
        overdue = {"severity": Severity.CRITICAL, "due_at": NOW - timedelta(hours=5)}
        await make_complaint(s, mine, **overdue)
        await make_complaint(s, risky, **overdue)
        await make_complaint(s, mine, **{**overdue, "status": ComplaintStatus.RESOLVED})
        await make_complaint(s, mine, **{**overdue, "severity": Severity.HIGH})
        await make_complaint(s, mine, severity=Severity.CRITICAL, due_at=NOW + timedelta(hours=1))
    await deliver(bot, "2026-11-20 09:00")
    [sveta] = digests(bot, SVETA)
    assert "Команда «Москва»" in sveta.content
    assert "3 клиента под угрозой, на кону 600\xa0000\xa0₽" in sveta.content
    assert "Анна Петрова — 3 (высокий риск: 3)" in sveta.content
    assert "Борис" not in sveta.content and "Питерский" not in sveta.content
    assert "Просрочена 1 критическая рекламация" in sveta.content
    assert "ООО «Сломано» (Анна Петрова) — просрочена с 20 нояб., 07:30" in sveta.content
    assert "👥 Клиенты команды под угрозой" in [b.text for row in sveta.buttons for b in row]
    [ada] = digests(bot, ADMIN)
    assert "Все команды" in ada.content and "4 клиента под угрозой" in ada.content
    assert "Анна Петрова — 3" in ada.content and "Борис Орлов — 1" in ada.content
    assert "Просрочены 2 критические рекламации" in ada.content
    assert len(digests(bot, ANNA)) == 1 and len(digests(bot, BORIS)) == 1

    # The team button opens the team's list below the digest, owners shown.
    listing = await bot.chat(SVETA, "Sveta").click("👥 Клиенты команды под угрозой")
    [team_list] = listing.messages
    assert "3 клиента под угрозой" in team_list.content and "👤 Анна Петрова" in team_list.content
    assert digests(bot, SVETA)[0].content == sveta.content  # the digest itself stays


async def test_only_transitions_against_what_the_person_was_told(
    bot: BotUnderTest, people: dict[str, int], clock: Clock
) -> None:
    async with bot.db.session() as s:
        x = await at_risk_client(s, people["anna"], MEDIUM, 50, 50_000, name="Иксов")
    anna = people["anna"]
    await deliver(bot, "2026-11-20 09:00", staff_ids=[anna])
    assert len(digests(bot, ANNA)) == 1

    # Saturday night the score jumps; Sunday night's recomputation keeps it there. No digests at
    # the weekend; on Monday the client is still news, judged against Friday's alert.
    await set_risk(bot.db, x.id, HIGH, 75)
    await deliver(bot, "2026-11-21 09:00", staff_ids=[anna])
    await set_risk(bot.db, x.id, HIGH, 76)
    await deliver(bot, "2026-11-22 09:00", staff_ids=[anna])
    assert len(digests(bot, ANNA)) == 1
    await deliver(bot, "2026-11-23 09:00", staff_ids=[anna])
    monday = digests(bot, ANNA)[-1]
    assert len(digests(bot, ANNA)) == 2 and "Иксов" in monday.content and "⬆️ хуже" in monday.content

    # Unchanged: nothing on Tuesday, the day is recorded as skipped.
    report = await deliver(bot, "2026-11-24 09:00", staff_ids=[anna])
    assert report[Outcome.SKIPPED] == 1 and len(digests(bot, ANNA)) == 2

    # Better, then back to where it was: not news. A new reason is.
    await set_risk(bot.db, x.id, MEDIUM, 55)
    await deliver(bot, "2026-11-25 09:00", staff_ids=[anna])
    await set_risk(bot.db, x.id, HIGH, 76, ["no_purchases", "complaints"])
    await deliver(bot, "2026-11-26 09:00", staff_ids=[anna])
    assert len(digests(bot, ANNA)) == 3 and "➕ новая причина" in digests(bot, ANNA)[-1].content

    # Recovered: the memory goes; coming back at risk is news again.
    await set_risk(bot.db, x.id, LOW, 20)
    await deliver(bot, "2026-11-27 09:00", staff_ids=[anna])
    assert await memory(bot.db, anna, x.id) is None
    await set_risk(bot.db, x.id, MEDIUM, 45)
    await deliver(bot, "2026-11-30 09:00", staff_ids=[anna])
    assert len(digests(bot, ANNA)) == 4 and "🆕 новый" in digests(bot, ANNA)[-1].content
    statuses = [row.status for row in await ledger(bot.db, anna)]
    assert statuses == ["sent", "sent", "skipped", "skipped", "sent", "skipped", "sent"]


async def test_snooze_silences_a_client_until_it_ends(
    bot: BotUnderTest, people: dict[str, int], clock: Clock
) -> None:
    async with bot.db.session() as s:
        await at_risk_client(s, people["anna"], MEDIUM, 50, 50_000, name="Иксов")
        y = await at_risk_client(s, people["anna"], MEDIUM, 40, 40_000, name="Игреков")
    anna_id = people["anna"]
    await deliver(bot, "2026-11-20 09:00", staff_ids=[anna_id])
    anna = bot.chat(ANNA, "Anna")
    clock.set("2026-11-20 10:00")
    # Rows: [Иксов, log], [snooze ×3], [Игреков, log], [snooze ×3]: 7 days for Игреков.
    reply = await anna.click(3, 0)
    assert reply.callback_answer is not None
    assert reply.callback_answer.text == "Отложено до 27 нояб. 2026."
    edited = reply.edits[0]
    assert "отложен до 27 нояб." in edited.content
    assert "🔔 Вернуть в сводку" in [b.text for row in edited.buttons for b in row]
    assert (await memory(bot.db, anna_id, y.id)).snooze_until == day("2026-11-27")  # type: ignore[union-attr]

    # A higher score alone does not break through a snooze …
    await set_risk(bot.db, y.id, MEDIUM, 70)
    await deliver(bot, "2026-11-23 09:00", staff_ids=[anna_id])
    assert len(digests(bot, ANNA)) == 1
    # … and when it ends, the client is back.
    await deliver(bot, "2026-11-27 09:00", staff_ids=[anna_id])
    back = digests(bot, ANNA)[-1]
    assert len(digests(bot, ANNA)) == 2
    assert "Игреков" in back.content and "⏰ отсрочка кончилась" in back.content
    assert "Иксов" not in back.content
    assert (await memory(bot.db, anna_id, y.id)).snooze_until is None  # type: ignore[union-attr]


async def test_a_worse_level_breaks_through_a_snooze_and_unsnooze_works(
    bot: BotUnderTest, people: dict[str, int], clock: Clock
) -> None:
    async with bot.db.session() as s:
        y = await at_risk_client(s, people["anna"], MEDIUM, 40, 40_000, name="Игреков")
    anna = bot.chat(ANNA, "Anna")
    listing = await anna.send("/atrisk")
    assert "1 клиент под угрозой" in listing.text
    snoozed = await anna.click("💤 30 дн.")
    assert "отложен до 20 дек." in snoozed.edits[0].content
    lifted = await anna.click("🔔 Вернуть в сводку")
    assert "отложен" not in lifted.edits[0].content
    await anna.click("💤 14 дн.")
    await set_risk(bot.db, y.id, HIGH, 60)
    await deliver(bot, "2026-11-23 09:00", staff_ids=[people["anna"]])
    [digest] = digests(bot, ANNA)
    assert "⬆️ хуже" in digest.content


async def test_two_runs_and_a_manual_send_now_send_once(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        await at_risk_client(s, people["anna"])
        await at_risk_client(s, people["boris"])
    first = await deliver(bot, "2026-11-20 09:00")
    second = await deliver(bot, "2026-11-20 09:01")
    manual = await deliver(bot, "2026-11-20 15:00", manual=True)
    assert first[Outcome.SENT] == 4  # two managers, a supervisor and an admin
    assert second[Outcome.TAKEN] == 4 and manual[Outcome.TAKEN] == 4
    assert second[Outcome.SENT] == 0 and manual[Outcome.SENT] == 0
    for telegram_id in (ADMIN, SVETA, ANNA, BORIS):
        assert len(bot.server.messages(telegram_id)) == 1


async def test_two_processes_on_one_database_send_once(
    bot: BotUnderTest, people: dict[str, int], sqlite_url: str
) -> None:
    async with bot.db.session() as s:
        managers = [
            await make_staff(s, telegram_id=100 + i, name=f"Менеджер {i}", team="Москва")
            for i in range(30)
        ]
        for manager in managers:
            await at_risk_client(s, manager.id)
    for manager in managers:
        bot.chat(manager.telegram_id, manager.name)
    settings = bot.app.services.settings
    # Two more bots as two processes would build them: own engine, own AIORateLimiter.
    databases = [Database(sqlite_url), Database(sqlite_url)]
    apps = [build_application(settings, database) for database in databases]
    try:
        for app in apps:
            await app.bot.initialize()
        reports = await asyncio.gather(
            *(run(app.bot, app.services.db, settings, FRIDAY_9) for app in apps)
        )
    finally:
        for app in apps:
            await app.bot.shutdown()
        for database in databases:
            await database.dispose()
    assert sum(r[Outcome.SENT] for r in reports) == 32  # 30 managers, Света, Ада
    assert sum(r[Outcome.SKIPPED] for r in reports) == 2  # Анна and Борис: nothing at risk
    assert sum(r[Outcome.TAKEN] for r in reports) == 34  # each person claimed by one of the two
    for manager in managers:
        assert len(bot.server.messages(manager.telegram_id)) == 1
    assert len(bot.server.messages(SVETA)) == 1


async def test_the_tick_catches_up_after_downtime_within_the_grace(
    bot: BotUnderTest, people: dict[str, int], clock: Clock
) -> None:
    async with bot.db.session() as s:
        await at_risk_client(s, people["anna"])
    [job] = bot.app.job_queue.get_jobs_by_name(JOB_NAME)  # type: ignore[union-attr]
    assert job.job.trigger.interval == timedelta(seconds=TICK_SECONDS)
    assert FIRST_TICK_SECONDS <= 60  # the first tick after a start is the catch-up
    services = bot.app.services
    default = services.settings
    services.settings = default.model_copy(update={"alert_grace_hours": 2})
    clock.set("2026-11-20 11:30")  # down at 09:00, back after the 2-hour grace
    await job.run(bot.app)
    assert digests(bot, ANNA) == []
    services.settings = default  # no grace set: until the end of the day
    clock.set("2026-11-20 23:45")
    await job.run(bot.app)
    await job.run(bot.app)
    assert len(digests(bot, ANNA)) == 1
    clock.set("2026-11-21 09:30")  # Saturday: not a digest day by default
    await job.run(bot.app)
    assert len(digests(bot, ANNA)) == 1
    clock.set("2026-11-23 08:59")
    await job.run(bot.app)
    assert len(digests(bot, ANNA)) == 1
    assert [r.day for r in await ledger(bot.db, people["anna"])] == [day("2026-11-20")]


async def test_flood_control_and_bad_gateway_lose_nothing(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        for owner in (people["anna"], people["boris"]):
            await at_risk_client(s, owner)
    bot.server.fail_next("sendMessage", status=429, retry_after=1, chat_id=ANNA)
    bot.server.fail_next("sendMessage", status=502, times=2, chat_id=BORIS)
    bot.server.fail_next("sendMessage", status=500, chat_id=SVETA)
    report = await deliver(bot, "2026-11-20 09:00")
    assert report[Outcome.SENT] == 4 and report[Outcome.FAILED] == 0
    for telegram_id in (ADMIN, SVETA, ANNA, BORIS):
        assert len(bot.server.messages(telegram_id)) == 1
    attempts = {row.staff_id: row.attempts for row in await ledger(bot.db)}
    assert attempts == {people["ada"]: 1, people["sveta"]: 2, people["anna"]: 2, people["boris"]: 3}


async def test_a_long_flood_ban_or_a_hung_send_fails_the_claim_for_a_later_run(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        for owner in (people["anna"], people["boris"]):
            await at_risk_client(s, owner)
    bot.server.fail_next("sendMessage", status=429, retry_after=300, chat_id=ANNA)
    bot.server.slow_down("sendMessage", 2.0, times=1, chat_id=BORIS)
    policy = replace(FAST, retry_after_budget=60, send_timeout=0.5)
    only = {"staff_ids": [people["anna"], people["boris"]]}
    report = await deliver(bot, "2026-11-20 09:00", policy=policy, **only)
    assert report[Outcome.FAILED] == 2
    errors = dict(report.failures)
    assert errors[people["anna"]] == "flood control: retry after 300 s, over budget"
    assert errors[people["boris"]] == "gave up after 0.5 s"


async def test_a_failure_for_one_person_stops_no_one_and_is_retried_later(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        for owner in (people["anna"], people["boris"]):
            await at_risk_client(s, owner)
    bot.server.fail_next("sendMessage", status=502, times=None, chat_id=ANNA)
    report = await deliver(bot, "2026-11-20 09:00")
    assert report[Outcome.FAILED] == 1 and report[Outcome.SENT] == 3
    async with bot.db.session() as s:
        [(row, person)] = await repo.problems(s, day=day("2026-11-20"))
    assert person.telegram_id == ANNA and row.status == DeliveryStatus.FAILED
    assert row.attempts == 4 and "Bad Gateway" in (row.error or "")
    bot.server.clear_faults()
    assert (await deliver(bot, "2026-11-20 09:02"))[Outcome.TAKEN] == 4  # too soon to retry
    retry = await deliver(bot, "2026-11-20 09:10")
    assert retry[Outcome.SENT] == 1 and len(bot.server.messages(ANNA)) == 1
    [row] = await ledger(bot.db, people["anna"])
    assert row.status == DeliveryStatus.SENT and row.claims == 2


async def test_a_claim_left_pending_by_a_dead_process_is_taken_over_when_stale(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        await at_risk_client(s, people["anna"])
    async with bot.db.session() as s:
        await repo.claim(
            s, staff_id=people["anna"], day=day("2026-11-20"), now=FRIDAY_9, by="dead:1"
        )
    only_anna = {"staff_ids": [people["anna"]]}
    assert (await deliver(bot, "2026-11-20 09:05", **only_anna))[Outcome.TAKEN] == 1
    assert bot.server.messages(ANNA) == []
    assert (await deliver(bot, "2026-11-20 09:11", **only_anna))[Outcome.SENT] == 1
    [row] = await ledger(bot.db, people["anna"])
    assert row.claims == 2 and row.status == DeliveryStatus.SENT
    assert row.claimed_by is not None and row.claimed_by != "dead:1"


async def test_a_person_who_blocked_the_bot_is_skipped_until_they_write_again(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        for owner in (people["anna"], people["boris"]):
            await at_risk_client(s, owner)
    bot.server.block_chat(ANNA)
    report = await deliver(bot, "2026-11-20 09:00")
    assert report[Outcome.BLOCKED] == 1 and report[Outcome.SENT] == 3
    async with bot.db.session() as s:
        anna = await s.get(Staff, people["anna"])
        assert anna is not None and anna.blocked_at is not None
    [row] = await ledger(bot.db, people["anna"])
    assert row.status == DeliveryStatus.BLOCKED and "blocked" in (row.error or "")

    sends = len(bot.server.calls("sendMessage"))
    monday = await deliver(bot, "2026-11-23 09:00", staff_ids=[people["anna"]])
    assert monday.due == 0 and len(bot.server.calls("sendMessage")) == sends

    bot.server.unblock_chat(ANNA)
    await bot.chat(ANNA, "Anna").send("/help")
    async with bot.db.session() as s:
        anna = await s.get(Staff, people["anna"])
        assert anna is not None and anna.blocked_at is None
    await deliver(bot, "2026-11-24 09:00", staff_ids=[people["anna"]])
    assert len(digests(bot, ANNA)) == 1  # what she missed is still news


async def test_blocking_and_unblocking_in_telegram_is_noticed(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    anna = bot.chat(ANNA, "Anna")
    await anna.block()
    async with bot.db.session() as s:
        blocked = (await s.exec(select(Staff.blocked_at).where(Staff.id == people["anna"]))).one()
        assert blocked is not None
    await anna.unblock()
    async with bot.db.session() as s:
        blocked = (await s.exec(select(Staff.blocked_at).where(Staff.id == people["anna"]))).one()
        assert blocked is None


async def test_atrisk_on_demand_respects_scope_and_pages(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        for i in range(13):
            await at_risk_client(s, people["anna"], HIGH, 70, 1000 * (20 - i), name=f"Анин {i:02d}")
        await at_risk_client(s, people["boris"], HIGH, 70, 1_000_000, name="Борин")
    anna = bot.chat(ANNA, "Anna")
    reply = await anna.send("/atrisk")
    assert "13 клиентов под угрозой" in reply.text and "стр. 1 из 2" in reply.text
    assert "Борин" not in reply.text and "👤" not in reply.text
    more = await anna.click("Дальше »")
    assert "Анин 12" in more.edits[0].content and "11. " in more.edits[0].content
    sveta = await bot.chat(SVETA, "Sveta").send("/atrisk")
    assert "Команда «Москва»" in sveta.text and "👤 Анна Петрова" in sveta.text
    assert "Борин" not in sveta.text
    boss = await bot.chat(ADMIN, "Ada").send("/atrisk")
    assert boss.text.index("Борин") < boss.text.index("Анин 00")
    assert await bot.chat(BORIS, "Boris").send("/atrisk")
    # A stale page number shows the last page instead of failing.
    stale = await anna.click("« Назад")
    assert "стр. 1 из 2" in stale.edits[0].content


async def test_buttons_open_the_card_and_start_logging_below_the_digest(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        client = await at_risk_client(s, people["anna"], HIGH, 80, name="Карточкин")
    await deliver(bot, "2026-11-20 09:00", staff_ids=[people["anna"]])
    anna = bot.chat(ANNA, "Anna")
    opened = await anna.click("1. Карточкин")
    [card] = opened.messages
    assert "Карточкин" in card.content and f"#{client.id}" in card.content
    assert len(digests(bot, ANNA)) == 1  # the digest is still there, unchanged
    digest = digests(bot, ANNA)[0]
    assert f"lg:new:{client.id}" in datas(digest)  # the interaction-logging flow's entry
    # "Log a call" starts the interaction-logging flow for that client, below the digest.
    log = await anna.click("📞 Записать звонок", message=digest)
    assert log.messages and "Карточкин" in log.last.content
    assert len(digests(bot, ANNA)) == 1
    # A button of someone else's digest answers "out of date" and shows nothing.
    delivery_id = (await ledger(bot.db))[0].id
    boris = bot.chat(BORIS, "Boris")
    for data in (f"dgp:{delivery_id}:2", "snz:1:9:a1", "acard:x", "dgp:1"):
        _, update_id = bot.server.press_button(BORIS, digest, data)
        while not bot.server.is_update_processed(update_id):
            await bot.server.wait_for_activity(0.1)
        answer = boris.callback_answers[-1]
        assert answer.show_alert and answer.text == "Этот список устарел — откройте его заново."
    assert boris.messages == []


async def test_alerts_settings(bot: BotUnderTest, people: dict[str, int]) -> None:
    anna = bot.chat(ANNA, "Anna")
    shown = await anna.send("/alerts")
    assert "Включена" in shown.text and "09:00 (Europe/Moscow)" in shown.text
    assert "пн, вт, ср, чт, пт" in shown.text
    assert "08:15" in (await anna.send("/alerts 8:15")).text
    assert "пн, ср" in (await anna.send("/alerts days пн,ср")).text
    assert "Asia/Yekaterinburg" in (await anna.send("/alerts tz Asia/Yekaterinburg")).text
    assert "Неизвестный часовой пояс" in (await anna.send("/alerts tz Mars/Olympus")).text
    assert "ЧЧ:ММ" in (await anna.send("/alerts 25:00")).text
    assert "числа 1–7" in (await anna.send("/alerts days someday")).text
    assert "больше не будет" in (await anna.send("/alerts off")).text
    shown = await anna.send("/alerts")
    assert "Выключена" in shown.text and "08:15 (Asia/Yekaterinburg)" in shown.text
    async with bot.db.session() as s:
        await at_risk_client(s, people["anna"])
    assert (await deliver(bot, "2026-11-23 10:00", staff_ids=[people["anna"]])).due == 0
    await anna.send("/alerts on")
    # 08:15 in Yekaterinburg is 06:15 in Moscow; Tuesday is not one of her days.
    assert (await deliver(bot, "2026-11-24 10:00", staff_ids=[people["anna"]])).due == 0
    assert (await deliver(bot, "2026-11-23 06:14", staff_ids=[people["anna"]])).due == 0
    assert (await deliver(bot, "2026-11-23 06:15", staff_ids=[people["anna"]]))[Outcome.SENT] == 1
    [row] = await ledger(bot.db, people["anna"])
    assert row.day == day("2026-11-23")


async def test_digest_in_english_for_english_speakers(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        anna = await s.get(Staff, people["anna"])
        assert anna is not None
        anna.language = "en"
        s.add(anna)
        await at_risk_client(s, people["anna"], MEDIUM, 45, 12_345, name="Smith & Sons <Ltd>")
    await deliver(bot, "2026-11-20 09:00", staff_ids=[people["anna"]])
    [message] = digests(bot, ANNA)
    assert (
        "Clients slipping away" in message.content and "1 client needs attention" in message.content
    )
    assert "Smith & Sons <Ltd>" in message.content  # escaped in HTML, shown as typed
    assert "churn risk medium (45/100)" in message.content
