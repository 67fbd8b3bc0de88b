"""seed-demo: a realistic, deterministic data set in which every later feature finds its cases."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import phonenumbers
import pytest
from sqlalchemy import func, text
from sqlmodel import col, select

from bot.domain import ClientStatus, ComplaintStatus, Role, Severity
from bot.normalize import normalize_email, normalize_phone
from bot.seed import (
    DEMO_ADMIN_TELEGRAM_ID,
    DEMO_MANAGER_TELEGRAM_ID,
    DEMO_SUPERVISOR_TELEGRAM_ID,
    SeedError,
    SeedReport,
    seed_demo,
)
from bot.seed.generate import ARCHETYPES, generate, manager_count
from bot.seed.names import AWKWARD_NAMES, LONG_COMPANY_NAME
from db.models import Client, Complaint, Interaction, Sale, Staff
from db.session import Database
from tests.factories import make_client

CLIENTS = 300
TODAY = date(2026, 3, 16)
ANCHOR = datetime.combine(TODAY, time(0), tzinfo=timezone(timedelta(hours=3)))


async def _seed(
    database: Database, progress: Callable[[str, int, int], None] | None = None
) -> SeedReport:
    return await seed_demo(database, clients=CLIENTS, seed=7, today=TODAY, progress=progress)


async def _count(database: Database, model: type) -> int:
    async with database.session() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


def _inn_is_valid(inn: str) -> bool:
    digits = [int(d) for d in inn]

    def check(weights: list[int]) -> int:
        return sum(w * d for w, d in zip(weights, digits, strict=False)) % 11 % 10

    if len(digits) == 10:
        return check([2, 4, 10, 3, 5, 9, 4, 6, 8]) == digits[9]
    return (
        len(digits) == 12
        and check([7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == digits[10]
        and check([3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == digits[11]
    )


async def test_report_matches_the_database(database: Database) -> None:
    stages: dict[str, tuple[int, int]] = {}
    report = await _seed(
        database, progress=lambda s, done, total: stages.update({s: (done, total)})
    )
    assert report.clients == CLIENTS
    assert report.staff == await _count(database, Staff)
    assert report.clients == await _count(database, Client)
    assert report.sales == await _count(database, Sale)
    assert report.interactions == await _count(database, Interaction)
    assert report.complaints == await _count(database, Complaint)
    assert 8 * CLIENTS <= report.sales <= 13 * CLIENTS
    assert 2 * CLIENTS <= report.interactions <= 4 * CLIENTS
    assert 0.15 * CLIENTS <= report.complaints <= 0.5 * CLIENTS
    assert report.seconds > 0
    for stage in (
        "generate",
        "staff",
        "clients",
        "referrals",
        "sales",
        "interactions",
        "complaints",
    ):
        done, total = stages[stage]
        assert done == total > 0


async def test_demo_staff(database: Database) -> None:
    await _seed(database)
    async with database.session() as session:
        staff = {s.telegram_id: s for s in (await session.exec(select(Staff))).all()}
        manager = staff[DEMO_MANAGER_TELEGRAM_ID]
        supervisor = staff[DEMO_SUPERVISOR_TELEGRAM_ID]
        assert staff[DEMO_ADMIN_TELEGRAM_ID].role is Role.ADMIN
        assert supervisor.role is Role.SUPERVISOR
        assert manager.role is Role.MANAGER
        assert manager.language == "ru"
        assert supervisor.team == manager.team
        assert len({s.team for s in staff.values() if s.role is Role.SUPERVISOR}) == 2
        managers = [s for s in staff.values() if s.role is Role.MANAGER]
        assert len(managers) == manager_count(CLIENTS) >= 4
        owned = (
            await session.exec(
                select(func.count()).select_from(Client).where(Client.owner_id == manager.id)
            )
        ).one()
        assert 25 <= owned <= 40
        # Every client has a manager for an owner; nobody else owns clients.
        owners = set((await session.exec(select(Client.owner_id).distinct())).all())
        assert owners <= {s.id for s in managers}


async def test_every_archetype_leaves_its_signal(database: Database) -> None:
    await _seed(database)
    async with database.session() as session:
        clients = (await session.exec(select(Client))).all()
        sales = (await session.exec(select(Sale).order_by(Sale.client_id, Sale.date))).all()
        complaints = (await session.exec(select(Complaint))).all()
    by_client: dict[int, list[Sale]] = defaultdict(list)
    for sale in sales:
        by_client[sale.client_id].append(sale)

    # Nothing computed yet: the classifier fills these in.
    assert all(c.client_type is None and c.strategy is None for c in clients)
    # Potential: no purchase at all.
    assert sum(1 for c in clients if c.id not in by_client) >= 0.05 * CLIENTS
    # Worst: long-unpaid invoices, negative margins and refunds.
    overdue = {
        s.client_id
        for s in sales
        if s.paid_date is None and s.invoice_due and s.invoice_due < TODAY - timedelta(days=30)
    }
    assert len(overdue) >= 5
    assert any(s.margin is not None and s.margin < 0 for s in sales)
    assert any(s.amount < 0 for s in sales)
    # Advocates brought 1–4 referrals each.
    referrals: dict[int, int] = defaultdict(int)
    for c in clients:
        if c.referred_by_id is not None:
            referrals[c.referred_by_id] += 1
    assert len(referrals) >= 5
    assert set(referrals.values()) <= {1, 2, 3, 4}
    # Shoppers: mostly on discount.
    bargain = [
        rows
        for rows in by_client.values()
        if len(rows) >= 2 and sum(s.discount for s in rows) > len(rows) / 2
    ]
    assert len(bargain) >= 10
    # Best: frequent and high value over the last year.
    year = [
        [s for s in rows if s.date > TODAY - timedelta(days=365)] for rows in by_client.values()
    ]
    assert any(
        len(rows) >= 15 and sum(s.amount for s in rows) > Decimal(1_000_000) for rows in year
    )
    # Slipping away: a steady history, then silence for well over the usual gap.
    slipping = 0
    for rows in by_client.values():
        days = [s.date for s in rows if s.amount > 0]
        if len(days) >= 6:
            gaps = np.diff([d.toordinal() for d in days])
            slipping += (TODAY - days[-1]).days > 2 * float(np.median(gaps))
    assert slipping >= 3
    # Complaints concentrate on a few clients.
    per_client = sorted(np.bincount([c.client_id for c in complaints]), reverse=True)
    assert sum(per_client[: CLIENTS // 20]) >= 0.5 * len(complaints)
    assert any(
        c.status is ComplaintStatus.RESOLVED and 1 <= (c.satisfaction or 0) <= 5 for c in complaints
    )
    assert any(c.status.is_open and c.due_at < ANCHOR for c in complaints)
    assert any(c.status.is_open and c.due_at > ANCHOR for c in complaints)
    assert any(c.status is ClientStatus.ARCHIVED for c in clients)
    # Money is exact, in range; refunds aside.
    positive = [s.amount for s in sales if s.amount > 0]
    assert min(positive) >= Decimal(1000) and max(positive) <= Decimal(500_000)
    assert all(s.amount == s.amount.quantize(Decimal("0.01")) for s in sales)


async def test_the_demo_manager_has_something_to_do_today(database: Database) -> None:
    await _seed(database)
    async with database.session() as session:
        manager = (
            await session.exec(select(Staff).where(Staff.telegram_id == DEMO_MANAGER_TELEGRAM_ID))
        ).one()
        steps = (
            await session.exec(
                select(Interaction.next_step_due).where(
                    Interaction.staff_id == manager.id,
                    col(Interaction.next_step_due).is_not(None),
                    col(Interaction.next_step_done_at).is_(None),
                )
            )
        ).all()
        critical = (
            await session.exec(
                select(Complaint).where(
                    Complaint.staff_id == manager.id,
                    Complaint.severity == Severity.CRITICAL,
                    Complaint.status == ComplaintStatus.OPEN,
                )
            )
        ).all()
        names = (await session.exec(select(Client.name).where(Client.owner_id == manager.id))).all()
    assert any(d < TODAY for d in steps)
    assert any(d == TODAY for d in steps)
    assert any(d > TODAY for d in steps)
    assert critical
    assert AWKWARD_NAMES[0][0] in names


async def test_contacts_are_normalised(database: Database) -> None:
    await _seed(database)
    async with database.session() as session:
        clients = (await session.exec(select(Client))).all()
    phones = [c.phone for c in clients]
    assert len(set(phones)) == len(phones)
    for phone in phones:
        assert phone is not None and re.fullmatch(r"\+79\d{9}", phone)
        assert normalize_phone(phone) == phone
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone))
    emails = [c.email for c in clients if c.email is not None]
    assert 0.6 * CLIENTS <= len(emails) < CLIENTS
    assert all(normalize_email(e) == e for e in emails)
    assert len(set(emails)) == len(emails)
    for client in clients:
        if client.tax_id is not None:
            assert _inn_is_valid(client.tax_id), client.tax_id
            if client.name.startswith(("ООО «", "АО «")):
                assert len(client.tax_id) == 10
            elif client.name.startswith("ИП "):
                assert len(client.tax_id) == 12
    assert sorted(c.external_id or "" for c in clients) == [
        f"C{i:06d}" for i in range(1, CLIENTS + 1)
    ]
    vocabulary = {"vip", "wholesale", "retail", "moscow", "spb", "b2b", "b2c", "новый"}
    assert set().union(*(c.tags for c in clients)) == vocabulary


async def test_names_are_realistic_and_include_awkward_ones(database: Database) -> None:
    await _seed(database)
    async with database.session() as session:
        names = (await session.exec(select(Client.name))).all()
    assert {name for name, _ in AWKWARD_NAMES} <= set(names)
    assert 240 <= len(LONG_COMPANY_NAME) <= 300
    assert any("<b>" in n for n in names)
    person = re.compile(r"^[А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+(вич|вна|ична|ич)$")
    assert sum(bool(person.match(n)) for n in names) >= 0.3 * CLIENTS
    assert sum(n.startswith("ООО «") for n in names) >= 0.2 * CLIENTS
    assert any(n.startswith("ИП ") for n in names)
    assert any(n.startswith("АО «") for n in names)
    assert any(re.fullmatch(r"[A-Za-z .&']+", n) for n in names)


async def test_timestamps_are_aware_and_histories_consistent(database: Database) -> None:
    await _seed(database)
    async with database.session() as session:
        interactions = (await session.exec(select(Interaction))).all()
        clients = {c.id: c for c in (await session.exec(select(Client))).all()}
        first_sale = dict(
            (
                await session.exec(
                    select(Sale.client_id, func.min(Sale.date)).group_by(Sale.client_id)
                )
            ).all()
        )
    assert all(i.occurred_at.tzinfo is not None and i.occurred_at < ANCHOR for i in interactions)
    assert all(
        i.next_step_due is None or i.next_step_due >= i.occurred_at.date() for i in interactions
    )
    for client_id, first in first_sale.items():
        assert clients[client_id].created_at.date() <= first
    assert all(c.created_at == c.updated_at and c.created_at < ANCHOR for c in clients.values())


async def test_same_seed_same_data(
    database: Database, sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "second.db"
    shutil.copyfile(sqlite_template, path)
    second = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await _seed(database)
        await _seed(second)

        async def picture(db: Database) -> tuple[list[tuple[str, str, str | None]], object]:
            async with db.session() as session:
                rows = await session.exec(
                    select(Client.name, Client.phone, Client.email).order_by(Client.external_id)
                )
                total = (await session.exec(select(func.sum(Sale.amount)))).one()
            return [tuple(r) for r in rows.all()], total  # type: ignore[misc]

        assert await picture(database) == await picture(second)
    finally:
        await second.dispose()


def test_another_seed_gives_other_data() -> None:
    one, two = generate(300, 1, TODAY), generate(300, 2, TODAY)
    assert one.clients.phone != two.clients.phone
    assert one.clients.name != two.clients.name
    assert generate(300, 1, TODAY).clients.name == one.clients.name


async def test_refuses_a_database_with_clients(database: Database) -> None:
    async with database.session() as session:
        await make_client(session, name="Настоящий клиент")
    with pytest.raises(SeedError, match="already has clients"):
        await _seed(database)
    assert await _count(database, Client) == 1
    assert await _count(database, Staff) == 0


async def test_refuses_a_second_seed(database: Database) -> None:
    await _seed(database)
    with pytest.raises(SeedError):
        await _seed(database)


async def test_refuses_sizes_it_cannot_make(sqlite_db: Database) -> None:
    with pytest.raises(SeedError, match="between"):
        await seed_demo(sqlite_db, clients=10)
    with pytest.raises(SeedError, match="seed"):
        await seed_demo(sqlite_db, clients=100, seed=-1)


async def test_sqlite_pragmas_are_restored(sqlite_db: Database) -> None:
    await seed_demo(sqlite_db, clients=60, today=TODAY)
    async with sqlite_db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 1
        assert (await conn.execute(text("PRAGMA cache_size"))).scalar() == -2000


def test_scale_and_mix() -> None:
    data = generate(5_000, 3, TODAY)
    n = len(data.clients)
    assert 9.0 <= len(data.sales) / n <= 11.5
    assert 2.5 <= len(data.interactions) / n <= 3.5
    assert 0.2 <= len(data.complaints) / n <= 0.4
    shares = np.bincount(data.clients.archetype, minlength=len(ARCHETYPES)) / n
    assert shares.round(2).tolist() == [0.08, 0.25, 0.07, 0.15, 0.05, 0.35, 0.05]
    assert len([s for s in data.staff if s.role is Role.MANAGER]) == manager_count(5_000) == 33
    assert manager_count(100_000) == 667 and manager_count(1_000_000) == 700
    demo = int((data.clients.owner == data.demo_manager).sum())
    assert 25 <= demo <= 40
    assert {s.language for s in data.staff} == {"ru", "en"}
    assert len({s.timezone for s in data.staff}) == 3
    assert data.clients.slipping.sum() > 0
    assert data.anchor == datetime(2026, 3, 15, 21, 0, tzinfo=UTC)


async def test_seeded_clients_are_searchable(database: Database) -> None:
    from bot.search_terms import parse_query
    from db.repositories import search
    from db.repositories.scope import Scope

    await seed_demo(database, clients=60, seed=3, today=date(2026, 11, 20))
    async with database.session() as session:
        admin = (
            await session.exec(select(Staff).where(Staff.telegram_id == DEMO_ADMIN_TELEGRAM_ID))
        ).one()
        search.vocabulary.clear()
        hits = await search.find(session, query=parse_query("Tom Jerry"), scope=Scope.of(admin))
    assert [h.name for h in hits] == ["Tom & Jerry <Ltd>"]
