"""The weekly summary pushed to supervisors on Monday: the real bot, the loopback Bot API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import ClientType, RiskLevel, Role, Strategy
from bot.handlers.alerts import JOB_NAME
from bot.sandbox import ChatMessage
from bot.services import delivery, summary_view, weekly
from bot.services.delivery import Outcome
from db.models import Staff
from db.models.alerts import DeliveryKind, DeliveryStatus
from db.repositories import alerts as repo
from tests.alerts_support import Clock, at_risk_client, day, ledger, moscow, run
from tests.e2e.conftest import NOW, BotUnderTest
from tests.factories import make_staff

ADMIN, SVETA, GLEB, ANNA, BORIS = 1, 2, 3, 4, 5
MONDAY = day("2026-11-23")
STALE = "Этот список устарел — откройте его заново."


@pytest.fixture
def clock() -> Clock:
    """Overrides the fixed clock of tests/e2e/conftest.py with one the tests can move."""
    return Clock(NOW)


@pytest.fixture
async def people(bot: BotUnderTest) -> dict[str, int]:
    """An admin, a team supervisor, a supervisor of everyone, two managers with clients."""
    async with bot.db.session() as s:
        ada = await make_staff(s, telegram_id=ADMIN, name="Ада Админ", role=Role.ADMIN)
        sveta = await make_staff(
            s, telegram_id=SVETA, name="Света Лебедева", role=Role.SUPERVISOR, team="Москва"
        )
        gleb = await make_staff(s, telegram_id=GLEB, name="Глеб Главный", role=Role.SUPERVISOR)
        anna = await make_staff(s, telegram_id=ANNA, name="Анна Петрова", team="Москва")
        boris = await make_staff(s, telegram_id=BORIS, name="Борис Орлов", team="Питер")
        await at_risk_client(
            s,
            anna.id,
            RiskLevel.HIGH,
            80,
            300_000,
            name="Лучший Анин",
            client_type=ClientType.BEST,
            strategy=Strategy.REWARD_INVEST,
        )
        await at_risk_client(
            s, anna.id, None, None, None, client_type=ClientType.REGULAR, strategy=Strategy.MANAGE
        )
        await at_risk_client(
            s,
            boris.id,
            RiskLevel.MEDIUM,
            40,
            50_000,
            name="Питерский",
            client_type=ClientType.SHOPPER,
            strategy=Strategy.MANAGE,
        )
        ids = {
            "ada": ada.id,
            "sveta": sveta.id,
            "gleb": gleb.id,
            "anna": anna.id,
            "boris": boris.id,
        }
    for telegram_id, name in (
        (ADMIN, "Ada"),
        (SVETA, "Sveta"),
        (GLEB, "Gleb"),
        (ANNA, "Anna"),
        (BORIS, "Boris"),
    ):
        bot.chat(telegram_id, name)
    return ids  # type: ignore[return-value]


async def push(bot: BotUnderTest, when: str, **options: object) -> delivery.RunReport:
    """One weekly-summary run as the scheduler would start it at `when` (Moscow time)."""
    settings = bot.app.services.settings
    return await run(bot.app.bot, bot.db, settings, moscow(when), plan=weekly.PLAN, **options)


def summaries(bot: BotUnderTest, telegram_id: int) -> list[ChatMessage]:
    return [m for m in bot.server.messages(telegram_id) if m.content.startswith("🗓")]


def photos(bot: BotUnderTest, telegram_id: int) -> list[ChatMessage]:
    return [m for m in bot.server.messages(telegram_id) if m.photo is not None]


def digests(bot: BotUnderTest, telegram_id: int) -> list[ChatMessage]:
    return [m for m in bot.server.messages(telegram_id) if m.content.startswith("🔔")]


async def weekly_rows(bot: BotUnderTest, staff_id: int) -> list:  # type: ignore[type-arg]
    return [r for r in await ledger(bot.db, staff_id) if r.kind == DeliveryKind.WEEKLY]


async def test_supervisors_get_the_summary_and_chart_on_monday_at_their_alert_time(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    assert (await push(bot, "2026-11-23 08:59")).due == 0
    assert summaries(bot, SVETA) == []
    report = await push(bot, "2026-11-23 09:00")
    assert report.due == 2 and report[Outcome.SENT] == 2  # Света and Глеб: supervisors only
    text, chart = bot.server.messages(SVETA)
    assert text.content.startswith("🗓 Итоги недели: 16–22 нояб. 2026\u202fг.")
    assert "📊 Сводка: команда «Москва»" in text.content and "2 клиента" in text.content
    assert "Анна Петрова" in text.content and "Борис Орлов" not in text.content
    assert chart.photo is not None and chart.photo.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert chart.content == "Доля клиентов и выручки по типам"
    # The same drill-down buttons as /summary, every one within Telegram's 64 bytes.
    data = [b.data or "" for row in text.buttons for b in row]
    assert "sum:t:best" in data and "sumc:a" in data
    assert all(len(d.encode()) <= 64 for d in data)
    [row] = await weekly_rows(bot, people["sveta"])
    assert (row.day, row.status, row.message_id) == (MONDAY, "sent", text.message_id)
    assert row.attempts == 2  # the text and the photo
    [gleb] = summaries(bot, GLEB)
    assert "📊 Сводка: все клиенты" in gleb.content and "3 клиента" in gleb.content
    assert "Борис Орлов" in gleb.content
    for telegram_id in (ADMIN, ANNA, BORIS):
        assert bot.server.messages(telegram_id) == []
    # The buttons under the pushed summary work as under /summary.
    sveta = bot.chat(SVETA, "Sveta")
    narrowed = await sveta.click("«Лучший» клиент", message=text)
    assert narrowed.edits[0].content.startswith("📊 Сводка: «Лучший» клиент")


async def test_only_on_monday_and_only_once_a_week(
    bot: BotUnderTest, people: dict[str, int], clock: Clock
) -> None:
    only = {"staff_ids": [people["sveta"]]}
    for weekday in ("2026-11-20", "2026-11-21", "2026-11-22", "2026-11-24", "2026-11-29"):
        assert (await push(bot, f"{weekday} 09:00", **only)).due == 0
    assert (await push(bot, "2026-11-23 09:00", **only))[Outcome.SENT] == 1
    again = await push(bot, "2026-11-23 09:01", **only)
    assert again[Outcome.TAKEN] == 1 and again[Outcome.SENT] == 0
    # By hand later in the week: the same week, already done.
    manual = await push(bot, "2026-11-25 15:00", manual=True, **only)
    assert manual[Outcome.TAKEN] == 1
    # The scheduler's tick after that: nothing more.
    [job] = bot.app.job_queue.get_jobs_by_name(JOB_NAME)  # type: ignore[union-attr]
    clock.set("2026-11-23 09:05")
    await job.run(bot.app)
    assert len(summaries(bot, SVETA)) == 1 and len(photos(bot, SVETA)) == 1
    # The next Monday is a new week.
    assert (await push(bot, "2026-11-30 09:00", **only))[Outcome.SENT] == 1
    assert [r.day for r in await weekly_rows(bot, people["sveta"])] == [
        MONDAY,
        day("2026-11-30"),
    ]


async def test_the_digest_and_the_weekly_summary_of_one_monday_are_delivered_independently(
    bot: BotUnderTest, people: dict[str, int], clock: Clock
) -> None:
    [job] = bot.app.job_queue.get_jobs_by_name(JOB_NAME)  # type: ignore[union-attr]
    clock.set("2026-11-23 09:00")
    await job.run(bot.app)
    await job.run(bot.app)
    # Света: the morning digest (her team's clients at risk) and the weekly summary with its chart.
    assert len(digests(bot, SVETA)) == 1
    assert len(summaries(bot, SVETA)) == 1 and len(photos(bot, SVETA)) == 1
    rows = await ledger(bot.db, people["sveta"])
    assert sorted((r.kind, r.day, r.status) for r in rows) == [
        ("digest", MONDAY, "sent"),
        ("weekly", MONDAY, "sent"),
    ]
    # Managers get only their digest.
    assert len(digests(bot, ANNA)) == 1 and summaries(bot, ANNA) == []
    # A digest's paging button with the weekly row's id pages nothing.
    [row] = await weekly_rows(bot, people["sveta"])
    sveta = bot.chat(SVETA, "Sveta")
    _, update_id = bot.server.press_button(SVETA, digests(bot, SVETA)[0], f"dgp:{row.id}:1")
    while not bot.server.is_update_processed(update_id):
        await bot.server.wait_for_activity(0.1)
    assert sveta.callback_answers[-1].text == STALE


async def test_a_weekly_claim_left_pending_is_taken_over_when_stale(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        await repo.claim(
            s,
            staff_id=people["sveta"],
            day=MONDAY,
            kind=DeliveryKind.WEEKLY,
            now=moscow("2026-11-23 09:00"),
            by="dead:1",
        )
    only = {"staff_ids": [people["sveta"]]}
    assert (await push(bot, "2026-11-23 09:05", **only))[Outcome.TAKEN] == 1
    assert summaries(bot, SVETA) == []
    # The digest of the same day is not held up by the weekly claim.
    digest = await run(
        bot.app.bot, bot.db, bot.app.services.settings, moscow("2026-11-23 09:05"), **only
    )
    assert digest[Outcome.SENT] == 1 and len(digests(bot, SVETA)) == 1
    assert (await push(bot, "2026-11-23 09:11", **only))[Outcome.SENT] == 1
    [row] = await weekly_rows(bot, people["sveta"])
    assert row.claims == 2 and row.status == DeliveryStatus.SENT
    assert row.claimed_by is not None and row.claimed_by != "dead:1"
    assert len(summaries(bot, SVETA)) == 1


async def test_a_supervisor_who_blocked_the_bot_is_marked_and_skipped(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    bot.server.block_chat(SVETA)
    report = await push(bot, "2026-11-23 09:00")
    assert report[Outcome.BLOCKED] == 1 and report[Outcome.SENT] == 1  # Глеб still gets his
    assert report.blocked == [people["sveta"]]
    [row] = await weekly_rows(bot, people["sveta"])
    assert row.status == DeliveryStatus.BLOCKED and "blocked" in (row.error or "")
    async with bot.db.session() as s:
        sveta = await s.get(Staff, people["sveta"])
        assert sveta is not None and sveta.blocked_at is not None
    assert (await push(bot, "2026-11-30 09:00", staff_ids=[people["sveta"]])).due == 0


async def test_the_photo_goes_through_the_same_retries(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    only = {"staff_ids": [people["sveta"]]}
    bot.server.fail_next("sendPhoto", status=429, retry_after=1, chat_id=SVETA)
    bot.server.fail_next("sendPhoto", status=502, chat_id=SVETA)
    assert (await push(bot, "2026-11-23 09:00", **only))[Outcome.SENT] == 1
    assert len(photos(bot, SVETA)) == 1
    [row] = await weekly_rows(bot, people["sveta"])
    assert row.attempts == 4 and row.error is None  # one text, three photo attempts


async def test_a_chart_that_cannot_follow_leaves_the_text_sent_and_noted(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    only = {"staff_ids": [people["sveta"]]}
    bot.server.fail_next("sendPhoto", status=502, times=None, chat_id=SVETA)
    report = await push(bot, "2026-11-23 09:00", **only)
    assert report[Outcome.SENT] == 1 and report.failures == []
    assert len(summaries(bot, SVETA)) == 1 and photos(bot, SVETA) == []
    [row] = await weekly_rows(bot, people["sveta"])
    assert row.status == DeliveryStatus.SENT and (row.error or "").startswith("photo: network")
    async with bot.db.session() as s:
        [(problem, person)] = await repo.problems(s, day=MONDAY)
    assert problem.id == row.id and person.telegram_id == SVETA
    bot.server.clear_faults()
    assert (await push(bot, "2026-11-23 09:30", **only))[Outcome.TAKEN] == 1  # no second text


async def test_a_chart_that_fails_to_draw_still_sends_the_text(
    bot: BotUnderTest, people: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("no fonts")

    monkeypatch.setattr(summary_view, "chart", broken)
    report = await push(bot, "2026-11-23 09:00", staff_ids=[people["sveta"]])
    assert report[Outcome.SENT] == 1
    assert len(summaries(bot, SVETA)) == 1 and photos(bot, SVETA) == []
    [row] = await weekly_rows(bot, people["sveta"])
    assert row.status == DeliveryStatus.SENT and row.attempts == 1 and row.error is None


async def test_a_supervisor_with_alerts_off_or_an_empty_team(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        gleb = await s.get(Staff, people["gleb"])
        assert gleb is not None
        gleb.alerts_enabled = False
        s.add(gleb)
        empty = await make_staff(
            s, telegram_id=77, name="Пустая Команда", role=Role.SUPERVISOR, team="Казань"
        )
    bot.chat(77, "Empty")
    report = await push(bot, "2026-11-23 09:00")
    assert report.due == 2  # Света and the supervisor of an empty team; Глеб turned alerts off
    assert report[Outcome.SENT] == 1 and report[Outcome.SKIPPED] == 1
    assert bot.server.messages(77) == [] and bot.server.messages(GLEB) == []
    [row] = await weekly_rows(bot, empty.id)  # type: ignore[arg-type]
    assert row.status == DeliveryStatus.SKIPPED


async def test_in_english_for_english_speakers_at_their_own_time(
    bot: BotUnderTest, people: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        sveta = await s.get(Staff, people["sveta"])
        assert sveta is not None
        sveta.language = "en"
        sveta.timezone = "Asia/Yekaterinburg"  # two hours ahead of Moscow
        sveta.alert_days = "2,3,4,5"  # no Monday digest; the weekly summary still comes
        s.add(sveta)
    only = {"staff_ids": [people["sveta"]]}
    assert (await push(bot, "2026-11-23 06:59", **only)).due == 0
    assert (await push(bot, "2026-11-23 07:00", **only))[Outcome.SENT] == 1
    text, chart = bot.server.messages(SVETA)
    assert text.content.startswith("🗓 Weekly summary: Nov 16\u2009–\u200922, 2026")
    assert "📊 Summary: team “Москва”" in text.content
    assert chart.content == "Share of clients and revenue by type"


async def test_the_tick_catches_up_within_the_grace(
    bot: BotUnderTest, people: dict[str, int], clock: Clock
) -> None:
    [job] = bot.app.job_queue.get_jobs_by_name(JOB_NAME)  # type: ignore[union-attr]
    services = bot.app.services
    default = services.settings
    services.settings = default.model_copy(update={"alert_grace_hours": 2})
    try:
        clock.set("2026-11-23 11:30")  # down at 09:00, back after the 2-hour grace
        await job.run(bot.app)
        assert summaries(bot, SVETA) == []
    finally:
        services.settings = default
    clock.set(moscow("2026-11-23 23:00") + timedelta(minutes=59))  # no grace: all Monday
    await job.run(bot.app)
    assert len(summaries(bot, SVETA)) == 1
