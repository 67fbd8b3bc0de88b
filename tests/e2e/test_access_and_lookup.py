"""Staff access, role scopes, search variants, the card, escaping and pagination, end to end."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.domain import ClientType, ComplaintStatus, Role, Severity, Strategy
from db.models import AuditLog, Client, Staff
from tests.e2e.conftest import NOW, BotUnderTest
from tests.factories import make_client, make_complaint, make_interaction, make_sale, make_staff

ADMIN, ANNA, BORIS, SVETA, STRANGER = 1, 2, 3, 4, 666


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
            name="Иванов Пётр Сергеевич",
            company="ООО «Ромашка»",
            phone="+79123456789",
            email="petr@romashka.ru",
            owner_id=anna.id,
            client_type=ClientType.BEST,
            strategy=Strategy.REWARD_INVEST,
        )
        tom = await make_client(
            s, name="Tom & Jerry <Ltd>", company="<b>Acme</b>", owner_id=anna.id
        )
        orlov_client = await make_client(s, name="Сидоров Олег", owner_id=boris.id)
        for i in range(19):
            await make_client(s, name=f"Петров {i:02d}", owner_id=anna.id)
        await make_sale(s, ivanov, date=(NOW - timedelta(days=20)).date(), amount=Decimal("120000"))
        await make_interaction(
            s,
            ivanov,
            staff_id=anna.id,
            text="Обсудили продление договора",
            occurred_at=NOW - timedelta(days=3),
            next_step="Отправить КП",
            next_step_due=(NOW + timedelta(days=1)).date(),
        )
        await make_complaint(
            s,
            ivanov,
            severity=Severity.HIGH,
            status=ComplaintStatus.OPEN,
            due_at=NOW + timedelta(hours=20),
        )
        ids = {"ivanov": ivanov.id, "tom": tom.id, "sidorov": orlov_client.id}
    await bot.reindex()
    return ids  # type: ignore[return-value]


async def test_stranger_learns_only_their_id(bot: BotUnderTest, world: dict[str, int]) -> None:
    stranger = bot.chat(STRANGER, "Eve")
    for attempt in ("/start", "/help", "Иванов", f"/client {world['ivanov']}", "/staff"):
        reply = await stranger.send(attempt)
        assert len(reply) == 1
        assert str(STRANGER) in reply.text
        assert "Иванов" not in reply.text and "/find" not in reply.text
    assert not stranger.last.buttons


async def test_manager_finds_with_typo_translit_and_phone(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA, "Анна")
    for query in (
        "Ivanof",
        "иванов петр",
        "/find 8 (912) 345-67-89",
        "+7 912 345 67 89",
        "9123456789",
    ):
        reply = await anna.send(query)
        assert reply.text.startswith("Иванов Пётр Сергеевич · #"), (query, reply.text)
    card = anna.last.text
    assert "ООО «Ромашка»" in card
    assert "Ответственный: Анна Петрова" in card
    assert "«Лучший» клиент · Вознаграждать и вкладывать" in card
    assert "Обсудили продление договора" in card
    assert "Следующий шаг: Отправить КП" in card
    assert "Открыта 1 рекламация" in card
    assert "120\u00a0000\u00a0₽" in card


async def test_card_by_id_with_or_without_hash(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA)
    a = await anna.send(f"/client {world['ivanov']}")
    b = await anna.send(f"/client #{world['ivanov']}")
    assert a.text == b.text
    bad = await anna.send("/client abc")
    assert "/client 42" in bad.text


async def test_other_managers_client_looks_like_no_client(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    foreign = await anna.send(f"/client {world['sidorov']}")
    missing = await anna.send("/client 999999")
    assert foreign.text == f"Клиент #{world['sidorov']} не найден."
    assert missing.text == "Клиент #999999 не найден."
    search = await anna.send("Сидоров")
    assert "Ничего не нашлось" in search.text


async def test_supervisor_sees_team_admin_sees_all(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    sveta = bot.chat(SVETA)
    assert (await sveta.send("Ivanov")).text.startswith("Иванов Пётр")
    assert "не найден" in (await sveta.send(f"/client {world['sidorov']}")).text
    admin = bot.chat(ADMIN)
    assert (await admin.send(f"/client {world['sidorov']}")).text.startswith("Сидоров Олег")


async def test_markup_in_names_is_shown_literally(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA)
    reply = await anna.send("tom jerry")
    assert reply.text.startswith("Tom & Jerry <Ltd> · #")
    assert "<b>Acme</b>" in reply.text
    assert "&lt;Ltd&gt;" in anna.last.html


async def test_results_paginate_with_buttons(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA)
    reply = await anna.send("Петров")
    assert "Найдено: 19. Страница 1 из 3." in reply.text
    labels = [row[0][0] for row in anna.last.buttons]
    assert labels[:8] == [f"Петров {i:02d}" for i in range(8)]
    assert anna.last.buttons[-1][0][0] == "Ещё »"
    page2 = await anna.click("Ещё »")
    assert page2.edits and "Страница 2 из 3" in anna.last.text
    assert [b[0] for b in anna.last.buttons[-1]] == ["« Назад", "Ещё »"]
    await anna.click("Ещё »")
    assert "Страница 3 из 3" in anna.last.text
    card = await anna.click("Петров 16")
    assert card.text.startswith("Петров 16 · #")
    assert all(len(data.encode()) <= 64 for row in anna.last.buttons for _, data in row)


async def test_nothing_found_suggests_close_names(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA)
    reply = await anna.send("Ромашкин Ивангард")
    assert "Ничего не нашлось" in reply.text
    assert "Возможно, вы искали:" in reply.text
    assert any("Иванов" in row[0][0] for row in anna.last.buttons)


async def test_stale_buttons_answer_instead_of_crashing(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    await anna.send("Петров")
    # An old list whose remembered query is gone (e.g. after a restart) is out of date.
    message = anna.last
    bot.server.chat(anna.chat_id)  # the chat exists
    update = await anna.click("Ещё »")
    assert update.edits
    # A card button for a client that was deleted meanwhile.
    card_button = next(row[0] for row in message.buttons if row[0][0].startswith("Петров"))
    async with bot.db.session() as s:
        client_id = int(card_button[1].split(":")[1])
        await (await s.connection()).execute(
            text("DELETE FROM client WHERE id = :id"), {"id": client_id}
        )
    reply = await anna.click(card_button[0], message=message)
    assert "не найден" in reply.text


async def test_too_long_paste_gets_a_short_answer(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA)
    reply = await anna.send("я" * 10_000)
    assert reply.text == "Слишком длинный текст: не больше 200 символов."


async def test_language_switch_and_role_menus(bot: BotUnderTest, world: dict[str, int]) -> None:
    anna = bot.chat(ANNA, lang="ru")
    await anna.send("/start")
    manager_menu = [c[0] for c in bot.server.effective_commands(anna.chat_id, "ru")]
    assert "find" in manager_menu and "staff" not in manager_menu
    reply = await anna.send("/lang en")
    assert reply.text == "Done: the interface is in English."
    assert (await anna.send("/client 999999")).text == "Client #999999 not found."
    admin = bot.chat(ADMIN, lang="en")
    hello = await admin.send("/start")
    assert "administrator" in hello.text and "/staff" in hello.text
    for _ in range(50):  # the menu is set right after the greeting; give it a moment under load
        admin_menu = [c[0] for c in bot.server.effective_commands(admin.chat_id, "en")]
        if "staff" in admin_menu:
            break
        await asyncio.sleep(0.02)
    assert "staff" in admin_menu and "assign" in admin_menu


async def test_admin_manages_staff_and_every_change_is_audited(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    admin = bot.chat(ADMIN, lang="en")
    assert (
        "Added: Gleb <Novikov>, manager."
        in (await admin.send("/staff add 77 manager Gleb <Novikov>")).text
    )
    gleb = bot.chat(77, "Gleb", lang="en")
    assert (await gleb.send("/start")).text.startswith("Hello, Gleb <Novikov>!")
    assert "is now supervisor" in (await admin.send("/staff role 77 supervisor")).text
    assigned = await admin.send(f"/assign #{world['ivanov']} 77")
    assert assigned.text == f"Client #{world['ivanov']} handed to Gleb <Novikov>."
    assert "Access disabled" in (await admin.send("/staff disable 77")).text
    refused = await gleb.send("/start")
    assert "77" in refused.text and "Иванов" not in refused.text
    listing = await admin.send("/staff")
    assert "Gleb <Novikov>" in listing.text and "(disabled)" in listing.text
    assert "Unknown role" in (await admin.send("/staff role 2 boss")).text
    assert "administrators only" in (await bot.chat(ANNA, lang="en").send("/staff")).text
    async with bot.db.session() as s:
        actions = [(a.entity, a.action) for a in (await s.exec(select(AuditLog))).all()]
        owner = (await s.exec(select(Client.owner_id).where(Client.id == world["ivanov"]))).one()
        gleb_row = (await s.exec(select(Staff).where(Staff.telegram_id == 77))).one()
    assert actions.count(("staff", "create")) == 1
    assert actions.count(("staff", "update")) == 2
    assert ("client", "assign") in actions
    assert owner == gleb_row.id and not gleb_row.active


async def test_a_failing_handler_is_reported_and_the_bot_keeps_serving(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        await (await s.connection()).execute(text("DROP TABLE client_search"))
    anna = bot.chat(ANNA)
    reply = await anna.send("Иванов")
    assert reply.text.startswith("База данных сейчас недоступна")
    assert (await anna.send(f"/client {world['ivanov']}")).text.startswith("Иванов Пётр")


async def test_long_staff_list_is_split_under_the_limit(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    async with bot.db.session() as s:
        for i in range(120):
            await make_staff(s, telegram_id=10_000 + i, name=f"Сотрудник с длинным именем {i}")
    admin = bot.chat(ADMIN)
    reply = await admin.send("/staff")
    assert len(reply) >= 2
    assert all(len(m.text) <= 4096 for m in reply.messages)


async def test_refresh_of_an_unchanged_card_sends_no_edit(
    bot: BotUnderTest, world: dict[str, int]
) -> None:
    anna = bot.chat(ANNA)
    await anna.send(f"/client {world['ivanov']}")
    edits_before = len(bot.server.calls("editMessageText"))
    reply = await anna.click("🔄 Обновить", expect_reply=False)
    assert reply.callback_answered
    assert len(bot.server.calls("editMessageText")) == edits_before
    async with bot.db.session() as s:
        client = await s.get(Client, world["ivanov"])
        assert client is not None
        client.company = "ООО «Ромашка-2»"
        s.add(client)
    changed = await anna.click("🔄 Обновить")
    assert changed.edits and "Ромашка-2" in anna.last.text
