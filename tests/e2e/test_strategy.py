"""The strategy engine end to end: the card, /why, /strategy, /recommend and its answers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.domain import ComplaintStatus, InteractionKind, Role, Severity
from bot.services import classification, events
from bot.strategies.playbooks import FeedbackAnswer
from db.models import AuditLog, Client, Interaction
from db.models.strategy import ClassificationChange, RecommendationFeedback
from tests.e2e.conftest import NOW, BotUnderTest
from tests.factories import make_client, make_complaint, make_sale, make_staff
from tests.strategies.support import buy_every

ADMIN, ANNA, BORIS, SVETA = 1, 2, 3, 4
TODAY = NOW.date()


@pytest.fixture
async def world(bot: BotUnderTest) -> dict[str, int]:
    async with bot.db.session() as s:
        await make_staff(s, telegram_id=ADMIN, name="Ада Админ", role=Role.ADMIN)
        anna = await make_staff(s, telegram_id=ANNA, name="Анна Петрова", team="Москва")
        boris = await make_staff(s, telegram_id=BORIS, name="Борис Орлов", team="Питер")
        await make_staff(s, telegram_id=SVETA, name="Света", role=Role.SUPERVISOR, team="Москва")
        mine = {"owner_id": anna.id}
        advocate = await make_client(s, name="Адвокатов Игорь", **mine)
        await buy_every(s, advocate, today=TODAY, days=30, count=20)
        await make_client(s, name="Приведённый Пётр", referred_by_id=advocate.id, **mine)
        regular = await make_client(s, name="Ровный Олег", **mine)
        await buy_every(s, regular, today=TODAY, days=30, count=12, amount="30000", margin="6000")
        debtor = await make_client(s, name="Должников Фёдор", **mine)
        await buy_every(s, debtor, today=TODAY, days=20, count=10, amount="20000", margin="3000")
        await make_sale(
            s,
            debtor,
            date=TODAY - timedelta(days=80),
            amount=Decimal(90_000),
            margin=Decimal(9_000),
            invoice_due=TODAY - timedelta(days=66),
        )
        loser = await make_client(s, name="Убыточный Юрий", **mine)
        await buy_every(s, loser, today=TODAY, days=25, count=6, amount="10000", margin="-2000")
        foreign = await make_client(s, name="Чужой Степан", owner_id=boris.id)
        await buy_every(s, foreign, today=TODAY, days=30, count=6)
        await classification.recompute(s, source="test")
        ids = {
            "advocate": advocate.id,
            "regular": regular.id,
            "debtor": debtor.id,
            "loser": loser.id,
            "foreign": foreign.id,
        }
    await bot.reindex()
    return ids  # type: ignore[return-value]


async def test_the_card_shows_type_strategy_reason_and_what_to_do(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    card = (await anna.send(f"/client {world['debtor']}")).text
    assert "«Худший» клиент · «Взыскивать»" in card
    assert (
        "Маржа за 12 мес. -51\u00a0000\u00a0₽ с учётом: неоплаченный счёт на 90\u00a0000\u00a0₽, "
        "просрочка 66 дн." in card
    )
    assert "Что сделать:\n1. Позвонить по долгу: 90\u00a0000\u00a0₽, просрочка 66 дн." in card
    full = await anna.click("💡 Что сделать")
    assert full.text.startswith("Что сделать: Должников Фёдор")
    assert "2. Начислить пени по договору за просроченный счёт" in full.text
    assert "3. Перевести на предоплату следующих заказов" in full.text


async def test_why_reads_like_the_rules(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA, lang="en")
    text = (await anna.send(f"/why {world['advocate']}")).text
    assert text.startswith("Why: Адвокатов Игорь")
    assert "Type: Advocate" in text
    assert "Brought 1 client and is still active" in text
    assert "Strategy: Reward & invest · segment strategy: loyalty" in text
    assert "Profitable now (12-month margin 156,000\u00a0₽) and in the future" in text
    assert "20 purchase days, the last 3 days ago, usually every 30 days" in text
    assert "Churn risk: low, 0/100" in text and "No risk signals" in text
    russian = (await bot.chat(ANNA).send(f"/why {world['loser']}")).text
    assert "Убыточен (маржа за 12 мес. -12\u00a0000\u00a0₽) без перспектив" in russian
    assert "Не отмечается: стратегия — «освобождать»" in russian


async def test_strategy_override_and_clear_are_audited(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    client_id = world["regular"]
    assert "Формат" in (await anna.send(f"/strategy {client_id}")).text
    assert "Неизвестная стратегия" in (await anna.send(f"/strategy {client_id} vip x")).text
    assert "Укажите причину" in (await anna.send(f"/strategy {client_id} manage")).text
    reply = await anna.send(f"/strategy {client_id} collect долги по прошлому договору")
    assert "задана вручную: «Взыскивать» (расчётная — Вознаграждать и вкладывать)" in reply.text
    card = (await anna.send(f"/client {client_id}")).text
    assert "🏷 Постоянный клиент · «Взыскивать»" in card
    assert "Стратегия задана вручную: «Взыскивать» (расчётная — Вознаграждать и вкладывать)" in card
    assert "Причина: долги по прошлому договору" in card
    why = (await anna.send(f"/why {client_id}")).text
    assert "✋ Задана вручную (Анна Петрова, 20 нояб., 12:30): «Взыскивать»" in why
    cleared = await anna.send(f"/strategy {client_id} clear")
    assert "снова действует расчётная: <b>" not in cleared.text
    assert "снова действует расчётная: Вознаграждать и вкладывать" in cleared.text
    assert "нет ручной стратегии" in (await anna.send(f"/strategy {client_id} clear")).text
    async with bot.db.session() as s:
        audit = (
            await s.exec(
                select(AuditLog).where(AuditLog.client_id == client_id).order_by(AuditLog.id)
            )
        ).all()
        changes = (
            await s.exec(
                select(ClassificationChange)
                .where(ClassificationChange.client_id == client_id)
                .order_by(ClassificationChange.id)
            )
        ).all()
        client = await s.get(Client, client_id)
    assert [a.action for a in audit] == ["strategy_override", "strategy_override_clear"]
    assert audit[0].after["strategy_override"] == "collect"
    assert audit[0].after["override_reason"] == "долги по прошлому договору"
    assert audit[1].after["strategy_override"] is None
    assert [(c.source, c.strategy, c.overridden) for c in changes[-2:]] == [
        ("override", "collect", True),
        ("override", "reward_invest", False),
    ]
    assert client is not None and client.strategy_override is None


async def test_recommendations_follow_the_situation(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    calm = (await anna.send(f"/recommend {world['regular']}")).text
    assert "Закрыть рекламацию" not in calm
    async with bot.db.session() as s:
        client = await s.get(Client, world["regular"])
        assert client is not None
        await make_complaint(
            s,
            client,
            severity=Severity.HIGH,
            status=ComplaintStatus.OPEN,
            due_at=NOW + timedelta(days=1),
        )
        await events.client_inputs_changed(s, {world["regular"]})
    upset = (await anna.send(f"/recommend {world['regular']}")).text
    assert "1. Закрыть рекламацию (срок 21 нояб., 12:30) — до любых предложений" in upset

    advocate = (await anna.send(f"/recommend {world['advocate']}")).text
    assert "1. Поблагодарить за рекомендации (1): личное спасибо и бонус" in advocate
    debtor = (await anna.send(f"/recommend {world['debtor']}")).text
    assert "Начислить пени по договору" in debtor and "Перевести на предоплату" in debtor
    loser = (await anna.send(f"/recommend {world['loser']}")).text
    assert "1. Перевести на самообслуживание" in loser
    assert "2. Отменить скидки и индивидуальные цены" in loser
    english = (await bot.chat(BORIS, lang="en").send(f"/recommend {world['foreign']}")).text
    assert english.startswith("What to do: Чужой Степан")


async def test_answers_are_stored(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/recommend {world['loser']}")
    done = await anna.click("✅ 1")
    assert done.callback_answer is not None
    assert done.callback_answer.text == (
        "Записано: Перевести на самообслуживание: заказы онлайн, без персонального менеджера"
    )
    assert "самообслуживание" not in anna.last.text  # answered: hidden for a while
    assert anna.last.text.startswith("Что сделать: Убыточный Юрий")

    later = await anna.click("⏳ 1")
    assert later.callback_answer is not None and later.callback_answer.text == "Отложено."

    ask = await anna.click("✖ 1")
    assert "не подходит? Одной строкой, или /cancel" in ask.text
    saved = await anna.send("уже без скидок с прошлого года")
    assert saved.texts[0] == "Учтено: не подходит — уже без скидок с прошлого года"
    assert saved.texts[1].startswith("Что сделать: Убыточный Юрий")

    await anna.click("✖ 1")
    cancelled = await anna.send("/cancel")
    assert "ничего не" in cancelled.text.lower() or "отмен" in cancelled.text.lower()
    after = await anna.send("Убыточный")  # typed text is a search again, not a reason
    assert after.text.startswith("Убыточный Юрий · #")

    async with bot.db.session() as s:
        answers = (
            await s.exec(select(RecommendationFeedback).order_by(RecommendationFeedback.id))
        ).all()
        notes = (
            await s.exec(select(Interaction).where(Interaction.kind == InteractionKind.NOTE))
        ).all()
    assert [(a.action, a.answer, a.playbook) for a in answers] == [
        ("self_service", FeedbackAnswer.DONE, "release"),
        ("end_discounts", FeedbackAnswer.NOT_NOW, "release"),
        ("stop_marketing", FeedbackAnswer.NOT_APPLICABLE, "release"),
    ]
    assert answers[2].reason == "уже без скидок с прошлого года"
    assert answers[0].interaction_id == notes[0].id
    assert notes[0].text == (
        "Сделано (рекомендация): Перевести на самообслуживание: заказы онлайн, "
        "без персонального менеджера"
    )
    assert {a.staff_id for a in answers} == {notes[0].staff_id}

    sveta = bot.chat(SVETA)
    stats = (await sveta.send("/recstats")).text
    assert (
        "Перевести на самообслуживание: заказы онлайн, без персонального менеджера: ✅ 1" in stats
    )
    assert "руководителям" in (await anna.send("/recstats")).text


async def test_other_managers_clients_look_like_no_client(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    foreign = world["foreign"]
    for command in (f"/why {foreign}", f"/recommend {foreign}", f"/strategy {foreign} manage x"):
        assert (await anna.send(command)).text == f"Клиент #{foreign} не найден."
    assert (await anna.send("/why")).text.startswith("Какой клиент?")
    sveta = bot.chat(SVETA)
    assert (await sveta.send(f"/why {world['debtor']}")).text.startswith("Почему: Должников")
    assert "не найден" in (await sveta.send(f"/why {foreign}")).text
    admin = bot.chat(ADMIN)
    assert (await admin.send(f"/why {foreign}")).text.startswith("Почему: Чужой Степан")


async def test_the_nightly_job_recomputes_everyone(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    (job,) = bot.app.job_queue.get_jobs_by_name("strategy_nightly")
    assert job.next_t is not None
    assert (job.next_t.astimezone(ZoneInfo("Europe/Moscow")).hour, job.next_t.minute) == (2, 0)
    async with bot.db.session() as s:
        client = await s.get(Client, world["regular"])
        assert client is not None
        client.client_type = None  # as if never classified
    await job.run(bot.app)
    async with bot.db.session() as s:
        client = await s.get(Client, world["regular"])
        runs = (await s.exec(select(ClassificationChange.source))).all()
    assert client is not None and client.client_type is not None
    assert "nightly" in runs


async def test_english_labels_with_markup_characters_are_escaped(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA, lang="en")
    reply = await anna.send(f"/strategy {world['debtor']} reward_invest paid everything today")
    assert "set manually: Reward & invest (computed: Collect)" in reply.text
    card = (await anna.send(f"/client {world['debtor']}")).text
    assert "Worst client · Reward & invest" in card
    assert "Strategy set manually: Reward & invest (computed: Collect)" in card
