"""The search index on both engines: every lookup path, typos, translit, phones, scope."""

from __future__ import annotations

import pytest

from bot.domain import Role
from bot.search_terms import parse_query
from db.repositories import search
from db.repositories.scope import Scope
from db.session import Database
from tests.factories import make_client, make_staff


@pytest.fixture
async def base(database: Database) -> dict:
    async with database.session() as session:
        anna = await make_staff(session, name="Anna", team="north")
        boris = await make_staff(session, name="Boris", team="south")
        sup = await make_staff(session, name="Sveta", role=Role.SUPERVISOR, team="north")
        admin = await make_staff(session, name="Adm", role=Role.ADMIN)
        ivanov = await make_client(
            session,
            name="Иванов Пётр Сергеевич",
            company="ООО «Ромашка»",
            phone="+79123456789",
            email="petr@romashka.ru",
            tax_id="7701234567",
            tags=["vip"],
            owner_id=anna.id,
        )
        await make_client(session, name="Ivanova Maria", owner_id=anna.id)
        tom = await make_client(session, name="Tom & Jerry <Ltd>", owner_id=boris.id)
        await search.reindex(session)
    search.vocabulary.clear()
    return {
        "anna": Scope.of(anna),
        "boris": Scope.of(boris),
        "sup": Scope.of(sup),
        "admin": Scope.of(admin),
        "ivanov": ivanov.id,
        "tom": tom.id,
    }


async def _ids(database: Database, text: str, scope: Scope) -> list[int]:
    async with database.session() as session:
        hits = await search.find(session, query=parse_query(text), scope=scope)
    return [h.client_id for h in hits]


@pytest.mark.parametrize(
    "text",
    [
        "Иванов Пётр",
        "ivanov petr",
        "IVANOV",
        "Ivanof Petr",
        "Иванв Петр",
        "romashka",
        "8 (912) 345-67-89",
        "+7 912 345 67 89",
        "9123456789",
        "petr@romashka.ru",
        "7701234567",
        "vip",
    ],
)
async def test_every_way_of_asking_finds_ivanov(database: Database, base: dict, text: str) -> None:
    ids = await _ids(database, text, base["admin"])
    assert ids and ids[0] == base["ivanov"], text


async def test_prefix_matches_several_and_ranks_exact_first(database: Database, base: dict) -> None:
    ids = await _ids(database, "ivanov", base["admin"])
    assert ids[0] == base["ivanov"]
    assert len(ids) == 2


async def test_scope_limits_results(database: Database, base: dict) -> None:
    assert await _ids(database, "tom jerry", base["boris"]) == [base["tom"]]
    assert await _ids(database, "tom jerry", base["anna"]) == []
    assert await _ids(database, "tom jerry", base["sup"]) == []
    assert await _ids(database, "ivanov petr", base["sup"]) == [base["ivanov"]]
    assert await _ids(database, "ivanov petr", base["boris"]) == []


async def test_reindex_one_client_follows_its_changes(database: Database, base: dict) -> None:
    async with database.session() as session:
        from db.models import Client

        client = await session.get(Client, base["tom"])
        assert client is not None
        client.name = "Спайк"
        session.add(client)
        await session.flush()
        await search.reindex(session, [base["tom"]])
    assert await _ids(database, "tom", base["admin"]) == []
    assert await _ids(database, "spayk", base["admin"]) == [base["tom"]]


async def test_suggestions_for_a_miss(database: Database, base: dict) -> None:
    async with database.session() as session:
        hits = await search.suggest(session, query=parse_query("Ivonava"), scope=base["admin"])
    assert hits and hits[0].name == "Ivanova Maria"
