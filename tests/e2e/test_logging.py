"""Logging interactions end to end: guided and one-line, next steps, /today, corrections, audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from bot.domain import ClientType, InteractionKind, Outcome, Role, Strategy
from db.models import AuditLog, Interaction
from tests.e2e.conftest import NOW, BotUnderTest
from tests.factories import make_client, make_interaction, make_staff

ADMIN, ANNA, BORIS, SVETA, STRANGER = 1, 2, 3, 4, 666
FRIDAY = NOW.date()  # 20 Nov 2026; 12:30 in Moscow


@pytest.fixture
async def world(bot: BotUnderTest) -> dict[str, int]:
    async with bot.db.session() as s:
        await make_staff(s, telegram_id=ADMIN, name="Ада Админ", role=Role.ADMIN)
        anna = await make_staff(s, telegram_id=ANNA, name="Анна Петрова", team="Москва")
        boris = await make_staff(s, telegram_id=BORIS, name="Борис Орлов", team="Питер")
        await make_staff(
            s, telegram_id=SVETA, name="Света Лебедева", role=Role.SUPERVISOR, team="Москва"
        )
        ivanov = await make_client(
            s,
            name="Иванов Пётр",
            company="ООО «Ромашка»",
            owner_id=anna.id,
            client_type=ClientType.BEST,
            strategy=Strategy.REWARD_INVEST,
        )
        tom = await make_client(s, name="Tom & Jerry <Ltd>", owner_id=anna.id)
        sidorov = await make_client(s, name="Сидоров Олег", owner_id=boris.id)
        ids = {"anna": anna.id, "ivanov": ivanov.id, "tom": tom.id, "sidorov": sidorov.id}
    await bot.reindex()
    return ids


async def interactions(bot: BotUnderTest, client_id: int) -> list[Interaction]:
    async with bot.db.session() as s:
        stmt = select(Interaction).where(Interaction.client_id == client_id)
        return list((await s.exec(stmt.order_by(col(Interaction.id)))).all())


async def audit_rows(bot: BotUnderTest, entity: str = "interaction") -> list[AuditLog]:
    async with bot.db.session() as s:
        stmt = select(AuditLog).where(AuditLog.entity == entity).order_by(col(AuditLog.id))
        return list((await s.exec(stmt)).all())


async def test_guided_flow_from_the_card(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA)
    card = await anna.send(f"/client {world['ivanov']}")
    labels = card.last.button_texts()
    assert "📝 Записать контакт" in labels and "❗ Рекламация" in labels and "🕑 История" in labels
    step = await anna.click("📝 Записать контакт")
    assert "Какой это был контакт?" in step.text and "Иванов Пётр" in step.text
    await anna.click("Звонок")
    assert "Чем закончился?" in anna.last.text
    await anna.click("позитивно")
    assert "О чём говорили?" in anna.last.text
    # Free text inside the flow belongs to the flow: no search answers it.
    reply = await anna.send("Обсудили продление договора, ждут КП")
    assert len(reply) == 1 and "Следующий шаг?" in reply.text
    assert "Ничего не нашлось" not in reply.text
    reply = await anna.send("отправить КП")
    assert "К какому сроку?" in reply.text
    monday = anna.last.button_texts()
    assert any("пн, 23 нояб." in label or "23" in label for label in monday), monday
    saved = await anna.click("Завтра")
    assert saved.text.startswith("✅ Сохранено: звонок, Иванов Пётр")
    assert "Следующий шаг: отправить КП — до 21 нояб. 2026" in saved.text
    [row] = await interactions(bot, world["ivanov"])
    assert row.kind == InteractionKind.CALL and row.outcome == Outcome.POSITIVE
    assert row.text == "Обсудили продление договора, ждут КП"
    assert row.next_step == "отправить КП" and row.next_step_due == date(2026, 11, 21)
    assert row.staff_id == world["anna"] and row.occurred_at == NOW
    [created] = await audit_rows(bot)
    assert created.action == "create" and created.staff_id == world["anna"]
    assert created.after and created.after["text"] == row.text
    # The card now shows the contact and the step.
    card = await anna.send(f"/client {world['ivanov']}")
    assert "Обсудили продление договора" in card.text and "отправить КП" in card.text


async def test_one_line_log_with_next_step(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA, lang="en")
    line = "call Discussed renewal, sends PO Friday → send the contract by next Monday"
    reply = await anna.send(f"/log {world['ivanov']} {line}")
    assert reply.text.startswith("✅ Saved: call with Иванов Пётр")
    assert "Next step: send the contract — due 23 Nov 2026" in reply.text
    # No outcome in the line: one tap sets it.
    assert reply.last.buttons[0][0].text == "👍"
    await anna.click("👍")
    assert "👍 positive" in anna.last.text
    [row] = await interactions(bot, world["ivanov"])
    assert row.text == "Discussed renewal, sends PO Friday"
    assert row.outcome == Outcome.POSITIVE and row.next_step_due == date(2026, 11, 23)
    actions = [a.action for a in await audit_rows(bot)]
    assert actions == ["create", "update"]


async def test_one_line_in_russian_with_outcome_mark(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    reply = await anna.send(
        f"/log #{world['ivanov']} встреча + Показали новый каталог\nдалее: перезвонить через 3 дня"
    )
    assert reply.text.startswith("✅ Сохранено: встреча, Иванов Пётр")
    [row] = await interactions(bot, world["ivanov"])
    assert row.kind == InteractionKind.MEETING and row.outcome == Outcome.POSITIVE
    assert row.next_step == "перезвонить" and row.next_step_due == date(2026, 11, 23)
    assert len(reply.last.buttons) == 1  # outcome known: no outcome row


async def test_one_line_without_a_date_asks_for_it(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    reply = await anna.send(f"/log {world['ivanov']} письмо Отправил прайс -> уточнить объём")
    assert "К какому сроку?" in reply.text
    past = await anna.send("19.11.2026")
    assert "Эта дата уже прошла" in past.text and "К какому сроку?" in past.text
    typo = await anna.send("в пятнцу")
    assert "Не понял дату «в пятнцу»" in typo.text
    saved = await anna.send("в следующую пятницу")
    assert "до 27 нояб. 2026" in saved.text
    [row] = await interactions(bot, world["ivanov"])
    assert row.kind == InteractionKind.EMAIL and row.next_step_due == date(2026, 11, 27)


async def test_next_step_with_date_in_one_message(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {world['ivanov']}")
    await anna.click("Визит")
    await anna.click("нейтрально")
    await anna.send("Посмотрели склад")
    saved = await anna.send("выставить счёт до среды")
    assert saved.text.startswith("✅ Сохранено: визит")
    [row] = await interactions(bot, world["ivanov"])
    assert row.next_step == "выставить счёт" and row.next_step_due == date(2026, 11, 25)


async def test_note_skips_outcome_and_no_answer_skips_text(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {world['tom']}")
    step = await anna.click("Заметка")
    assert "О чём говорили?" in step.text  # a note has no outcome
    await anna.send("Любит звонки после обеда")
    await anna.click("Без следующего шага")
    await anna.send(f"/log {world['tom']}")
    await anna.click("Звонок")
    await anna.click("нет ответа")
    saved = await anna.click("Пропустить — без комментария")
    assert "Следующий шаг?" in saved.text or "Следующий шаг?" in anna.last.text
    await anna.click("Без следующего шага")
    rows = await interactions(bot, world["tom"])
    assert [(r.kind, r.outcome, r.text) for r in rows] == [
        (InteractionKind.NOTE, None, "Любит звонки после обеда"),
        (InteractionKind.CALL, Outcome.NO_ANSWER, ""),
    ]


async def test_bad_input_keeps_the_flow_where_it_was(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    assert (await anna.send("/log 999999")).text == "Клиент #999999 не найден."
    # Another manager's client answers exactly like a missing one.
    foreign = await anna.send(f"/log {world['sidorov']}")
    assert foreign.text == f"Клиент #{world['sidorov']} не найден."
    assert "По какому клиенту?" in (await anna.send("/log")).text
    await anna.send(f"/log {world['ivanov']}")
    await anna.click("Звонок")
    await anna.click("негативно")
    paste = await anna.send("я" * 10_000)
    assert "Слишком длинно: 10\u00a0000 симв., можно не больше 2\u00a0000 символов" in paste.text
    assert len(paste) == 1
    invisible = await anna.send("\u2800\u200b")
    assert invisible.text == "Текст пустой — напишите хотя бы пару слов."
    blank = await anna.send(".")
    assert "Следующий шаг?" in blank.text  # a dot is a (short) text, taken
    empty_step = await anna.send("завтра")
    assert "Какой следующий шаг?" in empty_step.text
    long_step = await anna.send("ш" * 600)
    assert "можно не больше 500 символов" in long_step.text
    saved = await anna.send("созвониться завтра")
    assert saved.text.startswith("✅ Сохранено")
    assert len(await interactions(bot, world["ivanov"])) == 1


async def test_text_typed_at_a_button_step_is_kept(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {world['ivanov']}")
    reply = await anna.send("Договорились о скидке 5%")
    assert "Текст получил" in reply.text and "Какой это был контакт?" in reply.text
    assert "Ничего не нашлось" not in reply.text
    await anna.click("Звонок")
    step = await anna.click("позитивно")
    assert "Следующий шаг?" in step.text  # the text was already there
    await anna.click("Без следующего шага")
    [row] = await interactions(bot, world["ivanov"])
    assert row.text == "Договорились о скидке 5%"


async def test_cancel_ends_the_flow_and_shows_the_text_back(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {world['ivanov']}")
    await anna.click("Звонок")
    await anna.click("позитивно")
    await anna.send("Длинный рассказ о переговорах")
    cancelled = await anna.send("/cancel")
    assert len(cancelled) == 1  # the generic /cancel (group 10) stays silent
    assert cancelled.text.startswith("Отменено, ничего не сохранено.")
    assert "Длинный рассказ о переговорах" in cancelled.text
    assert (await anna.send("/cancel")).text == "Нечего прерывать."
    # After the flow, plain text is a search again.
    assert (await anna.send("Иванов")).text.startswith("Иванов Пётр · #")
    assert await interactions(bot, world["ivanov"]) == []
    # An old step button is stale now.
    old = anna.messages[-4]
    answer = await anna.click("Отмена", message=old, expect_reply=False)
    assert answer.callback_answer is not None


async def test_starting_another_flow_sets_the_first_aside(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {world['ivanov']}")
    await anna.send("Обсудили поставку")  # kept as text at the kind step
    switched = await anna.send(f"/log {world['tom']}")
    assert "Отложено незаконченное: запись контакта с клиентом Иванов Пётр" in switched.texts[0]
    assert "Обсудили поставку" in switched.texts[0]
    assert "Tom &amp; Jerry &lt;Ltd&gt;" in anna.last.html


async def test_markup_in_names_and_texts_is_shown_literally(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA, lang="en")
    reply = await anna.send(f"/log {world['tom']} note <b>VIP</b> & friends")
    assert "Tom & Jerry <Ltd>" in reply.text and "<b>VIP</b> & friends" in reply.text
    assert "&lt;b&gt;VIP&lt;/b&gt; &amp; friends" in anna.last.html


async def test_today_lists_due_and_overdue_steps(bot: BotUnderTest, world: dict[str, int]) -> None:
    async with bot.db.session() as s:
        from db.models import Client

        ivanov = await s.get(Client, world["ivanov"])
        tom = await s.get(Client, world["tom"])
        sidorov = await s.get(Client, world["sidorov"])
        assert ivanov and tom and sidorov
        late = await make_interaction(
            s, ivanov, staff_id=world["anna"], next_step="Отправить КП",
            next_step_due=FRIDAY - timedelta(days=2),
        )  # fmt: skip
        await make_interaction(
            s, tom, staff_id=world["anna"], next_step="Позвонить", next_step_due=FRIDAY
        )
        await make_interaction(
            s, tom, staff_id=world["anna"], next_step="Потом", next_step_due=FRIDAY + timedelta(1)
        )
        await make_interaction(s, sidorov, next_step="Чужой", next_step_due=FRIDAY)
        late_id = late.id
    anna = bot.chat(ANNA)
    today = await anna.send("/today")
    assert "Шаги на сегодня (2)" in today.text
    assert today.text.index("Просрочено") < today.text.index("Отправить КП")
    assert today.text.index("Отправить КП") < today.text.index("Сегодня\n")
    assert "Потом" not in today.text and "Чужой" not in today.text
    assert "с 18 нояб. 2026" in today.text
    # Move the overdue one to Monday.
    await anna.click("📅 1")
    assert "Новый срок для «Отправить КП»" in anna.last.text
    moved = await anna.send("в понедельник")
    assert "теперь до 23 нояб. 2026" in moved.text
    today = await anna.send("/today")
    assert "Шаги на сегодня (1)" in today.text and "Отправить КП" not in today.text
    # Log the follow-up of the other one: it closes the step.
    await anna.click("📝 1. Tom & Jerry <Ltd>")
    assert "Продолжение шага: Позвонить" in anna.last.text
    await anna.click("Звонок")
    await anna.click("позитивно")
    await anna.send("Позвонил, всё в порядке")
    await anna.click("Без следующего шага")
    today = await anna.send("/today")
    assert today.text == "На сегодня шагов нет и ничего не просрочено. 🎉"
    async with bot.db.session() as s:
        moved_row = await s.get(Interaction, late_id)
        assert moved_row and moved_row.next_step_due == date(2026, 11, 23)


async def test_corrections_by_the_author_within_24_hours(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {world['ivanov']} звонок Обсудили цену")
    await anna.click("✏️ Исправить")
    assert "Обсудили цену" in anna.last.text
    fixed = await anna.send("Обсудили цену и сроки")
    assert fixed.text.startswith("✅ Исправлено: контакт, Иванов Пётр.")
    [row] = await interactions(bot, world["ivanov"])
    assert row.text == "Обсудили цену и сроки"
    update = (await audit_rows(bot))[-1]
    assert update.action == "update"
    assert update.before == {"text": "Обсудили цену"}
    assert update.after == {"text": "Обсудили цену и сроки"}
    # Someone else cannot change it, even a supervisor who sees it.
    sveta = bot.chat(SVETA)
    history = await sveta.send(f"/history {world['ivanov']}")
    assert "✏️ 1" not in history.last.button_texts()
    # Delete: asks first.
    await anna.send(f"/history {world['ivanov']}")
    await anna.click("🗑 1")
    assert "Удалить эту запись" in anna.last.text
    await anna.click("Оставить")
    assert len(await interactions(bot, world["ivanov"])) == 1
    await anna.send(f"/history {world['ivanov']}")
    await anna.click("🗑 1")
    done = await anna.click("🗑 Да, удалить")
    assert "Удалено: контакт, Иванов Пётр" in done.last.text
    assert await interactions(bot, world["ivanov"]) == []
    deleted = (await audit_rows(bot))[-1]
    assert deleted.action == "delete" and deleted.before
    assert deleted.before["text"] == "Обсудили цену и сроки"


async def test_corrections_are_refused_after_24_hours(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        from db.models import Client

        ivanov = await s.get(Client, world["ivanov"])
        assert ivanov
        await make_interaction(
            s, ivanov, staff_id=world["anna"], text="Старый звонок",
            occurred_at=NOW - timedelta(hours=25), created_at=NOW - timedelta(hours=25),
        )  # fmt: skip
    anna = bot.chat(ANNA)
    history = await anna.send(f"/history {world['ivanov']}")
    assert "Старый звонок" in history.text and not history.last.buttons
    # Yesterday's confirmation, tapped a day later, answers clearly instead of deleting.
    await anna.send(f"/log {world['ivanov']} звонок Свежий звонок")
    saved = anna.last
    bot.app.services.clock = lambda: NOW + timedelta(hours=24, minutes=1)
    refused = await anna.click("🗑 Удалить", message=saved, expect_reply=False)
    assert refused.callback_answer is not None
    assert "в течение 24 часов" in (refused.callback_answer.text or "")
    refused = await anna.click("✏️ Исправить", message=saved, expect_reply=False)
    assert "в течение 24 часов" in (refused.callback_answer.text or "")  # type: ignore[union-attr]
    assert len(await interactions(bot, world["ivanov"])) == 2


async def test_history_is_paginated_newest_first(bot: BotUnderTest, world: dict[str, int]) -> None:
    async with bot.db.session() as s:
        from db.models import Client

        tom = await s.get(Client, world["tom"])
        assert tom
        for i in range(20):
            await make_interaction(
                s, tom, staff_id=world["anna"], text=f"Запись {i:02d} " + "слово " * 60,
                occurred_at=NOW - timedelta(days=20 - i),
            )  # fmt: skip
    anna = bot.chat(ANNA)
    page = await anna.send(f"/history {world['tom']}")
    assert "Контактов: 20" in page.text
    assert page.text.index("Запись 19") < page.text.index("Запись 18")
    assert len(page.last.text) <= 4096
    assert anna.last.buttons[-1][-1].text == "Старше »"
    seen = set()
    for _ in range(5):
        seen |= {i for i in range(20) if f"Запись {i:02d}" in anna.last.text}
        if "Старше »" not in anna.last.button_texts():
            break
        await anna.click("Старше »")
    assert seen == set(range(20))
    assert all(len(d.encode()) <= 64 for row in anna.last.buttons for _, d in row)


async def test_audit_for_supervisors_only(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/log {world['ivanov']} звонок Первый текст")
    await anna.click("✏️ Исправить")
    await anna.send("Второй текст")
    assert (await anna.send(f"/audit {world['ivanov']}")).text == (
        "Эта команда доступна руководителям и администраторам."
    )
    sveta = bot.chat(SVETA)
    trail = await sveta.send(f"/audit {world['ivanov']}")
    assert "журнал изменений" in trail.text
    assert "Анна Петрова — изменил(а) контакт" in trail.text
    assert "текст: Первый текст → Второй текст" in trail.text
    assert "Анна Петрова — создал(а) контакт" in trail.text
    assert trail.text.index("изменил(а)") < trail.text.index("создал(а)")
    assert "20 нояб., 12:30" in trail.text  # Moscow time
    # Out of a supervisor's team: like a missing client.
    assert "не найден" in (await sveta.send(f"/audit {world['sidorov']}")).text
    admin = bot.chat(ADMIN, lang="en")
    assert "audit trail" in (await admin.send(f"/audit {world['sidorov']}")).text


async def test_stranger_cannot_log(bot: BotUnderTest, world: dict[str, int]) -> None:
    eve = bot.chat(STRANGER, "Eve")
    for attempt in (f"/log {world['ivanov']} call hi", "/today", f"/history {world['ivanov']}"):
        reply = await eve.send(attempt)
        assert str(STRANGER) in reply.text and "Иванов" not in reply.text
    assert await interactions(bot, world["ivanov"]) == []
