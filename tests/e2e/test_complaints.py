"""Complaints end to end: filing with the SLA, escalation, the life cycle, satisfaction, audit."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlmodel import col, select

from bot.domain import ComplaintCategory, ComplaintStatus, Role, Severity
from db.models import AuditLog, Client, Complaint
from tests.e2e.conftest import NOW, BotUnderTest
from tests.factories import make_client, make_complaint, make_staff

ADMIN, ANNA, BORIS, SVETA, GLEB, STRANGER = 1, 2, 3, 4, 5, 666


@pytest.fixture
async def world(bot: BotUnderTest) -> dict[str, int]:
    async with bot.db.session() as s:
        await make_staff(s, telegram_id=ADMIN, name="Ада Админ", role=Role.ADMIN)
        anna = await make_staff(s, telegram_id=ANNA, name="Анна Петрова", team="Москва")
        boris = await make_staff(s, telegram_id=BORIS, name="Борис Орлов", team="Питер")
        await make_staff(
            s, telegram_id=SVETA, name="Света Лебедева", role=Role.SUPERVISOR, team="Москва"
        )
        await make_staff(
            s, telegram_id=GLEB, name="Глеб Новиков", role=Role.SUPERVISOR, team="Казань"
        )
        ivanov = await make_client(s, name="Иванов Пётр", owner_id=anna.id)
        sidorov = await make_client(s, name="Сидоров Олег", owner_id=boris.id)
        ids = {"anna": anna.id, "boris": boris.id, "ivanov": ivanov.id, "sidorov": sidorov.id}
    await bot.reindex()
    return ids


async def complaints(bot: BotUnderTest, client_id: int) -> list[Complaint]:
    async with bot.db.session() as s:
        stmt = select(Complaint).where(Complaint.client_id == client_id)
        return list((await s.exec(stmt.order_by(col(Complaint.id)))).all())


async def test_complaint_from_the_card_gets_its_sla(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/client {world['ivanov']}")
    step = await anna.click("❗ Рекламация")
    assert "На что жалоба?" in step.text
    await anna.click("Доставка")
    assert anna.last.button_texts()[:4] == [
        "🟢 Низкая · 72 ч",
        "🟡 Средняя · 48 ч",
        "🟠 Высокая · 24 ч",
        "🔴 Критичная · 4 ч",
    ]
    await anna.click("🟠 Высокая · 24 ч")
    assert "Опишите рекламацию" in anna.last.text
    reply = await anna.send("Привезли на два дня позже, простой линии")
    assert "Ничего не нашлось" not in reply.text
    assert reply.text.startswith("✅ Рекламация №")
    assert "срок 21 нояб., 12:30" in reply.text  # 24 h, Moscow time
    [row] = await complaints(bot, world["ivanov"])
    assert row.category == ComplaintCategory.DELIVERY and row.severity == Severity.HIGH
    assert row.due_at == NOW + timedelta(hours=24) and row.status == ComplaintStatus.OPEN
    assert row.escalated_at is None and row.staff_id == world["anna"]


async def test_command_with_text_asks_only_the_buttons(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA, lang="en")
    await anna.send(f"/complaint {world['ivanov']} Invoice doubled <again> & again")
    await anna.click("Billing")
    saved = await anna.click("🟢 Low · 72 h")
    assert "Complaint #" in saved.last.text and "due 23 Nov, 12:30" in saved.last.text
    assert "Invoice doubled <again> & again" in saved.last.text
    assert "&lt;again&gt; &amp; again" in anna.last.html
    assert (await anna.send("/complaint 999999 text")).text == "Client #999999 not found."
    foreign = await anna.send(f"/complaint {world['sidorov']} text")
    assert foreign.text == f"Client #{world['sidorov']} not found."
    assert "Which client?" in (await anna.send("/complaint")).text


async def test_critical_complaint_is_pushed_to_the_supervisor(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    sveta = bot.chat(SVETA)
    gleb = bot.chat(GLEB)
    await anna.send(f"/complaint {world['ivanov']} Партия бракованная, клиент грозит уйти")
    await anna.click("Качество")
    saved = await anna.click("🔴 Критичная · 4 ч")
    assert "Сразу отправлено: Света Лебедева." in saved.last.text
    push = sveta.last
    assert push.text.startswith("🚨 Критичная рекламация")
    assert "Иванов Пётр" in push.text and "Анна Петрова" in push.text
    assert "срок 20 нояб., 16:30" in push.text
    assert gleb.messages == []  # another team's supervisor hears nothing
    [row] = await complaints(bot, world["ivanov"])
    assert row.escalated_at == NOW
    # The supervisor opens it from the push and takes it.
    detail = await sveta.click("❗ Рекламация")
    assert "Рекламация №" in detail.text and "в работу" not in detail.text.lower()
    await sveta.click("▶️ В работу")
    assert "в работе" in sveta.last.text
    async with bot.db.session() as s:
        escalation = (await s.exec(select(AuditLog).where(AuditLog.action == "escalate"))).one()
    assert escalation.after and escalation.after["notified_staff_ids"]
    trail = await sveta.send(f"/audit {world['ivanov']}")
    assert "система — эскалировал(а) рекламацию" in trail.text
    assert "уведомлены: Света Лебедева" in trail.text
    assert "Света Лебедева — изменил(а) рекламацию" in trail.text
    assert "статус: открыта → в работе" in trail.text


async def test_without_a_team_supervisor_the_admins_hear(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    boris = bot.chat(BORIS)
    admin = bot.chat(ADMIN)
    await boris.send(f"/complaint {world['sidorov']} Всё сломалось")
    await boris.click("Обслуживание")
    saved = await boris.click("🔴 Критичная · 4 ч")
    assert "Ада Админ" in saved.last.text
    assert admin.last.text.startswith("🚨")


async def test_failed_push_keeps_the_complaint_and_is_retried(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    from bot.handlers.complaints import retry_escalations

    anna = bot.chat(ANNA)
    sveta = bot.chat(SVETA)
    bot.server.fail_next("sendMessage", chat_id=sveta.chat_id, status=403, times=None)
    await anna.send(f"/complaint {world['ivanov']} Срочно")
    await anna.click("Качество")
    saved = await anna.click("🔴 Критичная · 4 ч")
    assert "Руководителю пока не удалось доставить" in saved.last.text
    [row] = await complaints(bot, world["ivanov"])
    assert row.escalated_at is None and row.status == ComplaintStatus.OPEN
    bot.server.clear_faults()

    job_context = SimpleNamespace(application=bot.app, bot=bot.app.bot)
    later = NOW + timedelta(minutes=5)
    bot.app.services.clock = lambda: later
    await retry_escalations(job_context)  # type: ignore[arg-type]
    assert sveta.last.text.startswith("🚨 Критичная рекламация")
    [row] = await complaints(bot, world["ivanov"])
    assert row.escalated_at == later
    await retry_escalations(job_context)  # type: ignore[arg-type]
    assert len(sveta.messages) == 1  # once reached, never again


async def test_life_cycle_resolve_with_satisfaction(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        ivanov = await s.get(Client, world["ivanov"])
        assert ivanov
        late = await make_complaint(
            s, ivanov, staff_id=world["anna"], text="Не тот цвет", severity=Severity.LOW,
            due_at=NOW - timedelta(hours=3), created_at=NOW - timedelta(days=3),
        )  # fmt: skip
        await make_complaint(
            s, ivanov, staff_id=world["anna"], text="Счёт не пришёл", severity=Severity.CRITICAL,
            due_at=NOW + timedelta(hours=2), created_at=NOW - timedelta(hours=2),
        )  # fmt: skip
        await make_complaint(
            s, ivanov, text="Закрытая", status=ComplaintStatus.RESOLVED, due_at=NOW
        )
        late_id = late.id
    anna = bot.chat(ANNA)
    listing = await anna.send("/complaints")
    assert "Открытые рекламации (2)" in listing.text
    assert listing.text.index("просрочена с") < listing.text.index("срок 20 нояб., 14:30")
    labels = anna.last.button_texts()
    assert labels[0].startswith("1. ⏰ Иванов") and labels[1].startswith("2. 🔴 Иванов")
    detail = await anna.click(labels[0])
    assert "Не тот цвет" in detail.last.text and "⏰ просрочена" in detail.last.text
    await anna.click("▶️ В работу")
    assert "в работе" in anna.last.text
    await anna.click("✅ Решена")
    assert "Как решили?" in anna.last.text
    resolved = await anna.send("Заменили партию за наш счёт")
    assert "Рекламация №" in resolved.text and "решена" in resolved.text
    assert "Насколько клиент теперь доволен?" in resolved.text
    rated = await anna.click("4")
    assert "Удовлетворённость 4/5 сохранена" in rated.last.text
    async with bot.db.session() as s:
        row = await s.get(Complaint, late_id)
        assert row
        assert row.status == ComplaintStatus.RESOLVED and row.satisfaction == 4
        assert row.resolution == "Заменили партию за наш счёт" and row.resolved_at == NOW
        trail = (
            await s.exec(
                select(AuditLog)
                .where(AuditLog.entity == "complaint", AuditLog.entity_id == late_id)
                .order_by(col(AuditLog.id))
            )
        ).all()
    changes = [(a.action, a.after) for a in trail]
    assert changes[0] == ("update", {"status": "in_progress"})
    assert changes[1][1] and changes[1][1]["status"] == "resolved"
    assert changes[2] == ("update", {"satisfaction": 4})
    listing = await anna.send("/complaints")
    assert "Открытые рекламации (1)" in listing.text


async def test_reject_asks_why(bot: BotUnderTest, world: dict[str, int]) -> None:
    async with bot.db.session() as s:
        ivanov = await s.get(Client, world["ivanov"])
        assert ivanov
        row = await make_complaint(s, ivanov, text="Хотят скидку", due_at=NOW + timedelta(1))
        row_id = row.id
    sveta = bot.chat(SVETA)
    await sveta.send("/complaints")
    await sveta.click("1. 🟡 Иванов Пётр")
    await sveta.click("✖️ Отклонить")
    assert "Почему отклоняете?" in sveta.last.text
    empty = await sveta.send("   .   ")
    assert "Рекламация №" in empty.text  # a dot is an answer; short but taken
    async with bot.db.session() as s:
        closed = await s.get(Complaint, row_id)
        assert closed and closed.status == ComplaintStatus.REJECTED and closed.resolution == "."
    assert (await sveta.send("/complaints")).text == "Открытых рекламаций нет. 👍"
    # The old detail's buttons are stale now.
    stale = await sveta.click("✅ Решена", message=sveta.messages[-4], expect_reply=False)
    assert stale.callback_answer is not None


async def test_complaints_list_paginates(bot: BotUnderTest, world: dict[str, int]) -> None:
    async with bot.db.session() as s:
        ivanov = await s.get(Client, world["ivanov"])
        assert ivanov
        for i in range(19):
            await make_complaint(
                s, ivanov, text=f"Жалоба {i}" + " длинный текст" * 200,
                due_at=NOW + timedelta(hours=i),
            )  # fmt: skip
    anna = bot.chat(ANNA)
    first = await anna.send("/complaints")
    assert "Открытые рекламации (19)" in first.text and len(first.last.text) < 4096
    await anna.click("Ещё »")
    await anna.click("Ещё »")
    labels = anna.last.button_texts()
    assert labels[0].startswith("17.") and labels[-1] == "« Назад"


async def test_the_sla_comes_from_the_settings(bot: BotUnderTest, world: dict[str, int]) -> None:
    bot.app.services.settings.complaint_sla_hours["high"] = 12  # CRM_COMPLAINT_SLA_HOURS=high=12
    anna = bot.chat(ANNA)
    await anna.send(f"/complaint {world['ivanov']} Опоздали")
    await anna.click("Доставка")
    saved = await anna.click("🟠 Высокая · 12 ч")
    assert "срок 21 нояб., 00:30" in saved.last.text
    [row] = await complaints(bot, world["ivanov"])
    assert row.due_at == NOW + timedelta(hours=12)
