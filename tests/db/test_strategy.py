"""The strategy engine against the database, on every engine: set-based features, results
written back in bulk, the histories, the stored calibration, events and imports."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.domain import ClientType, ComplaintStatus, RiskLevel, Severity, Strategy
from bot.imports import import_sales_data
from bot.seed import seed_demo
from bot.services import classification, events
from bot.strategies.config import DEFAULT
from bot.strategies.features import day_number
from bot.strategies.playbooks import FeedbackAnswer
from db.models import Client, Sale
from db.models.strategy import ClassificationChange, RiskSnapshot, StrategyRun
from db.repositories import features as features_repo
from db.repositories import strategy as repo
from db.repositories.scope import Scope
from db.session import Database
from tests.factories import make_client, make_complaint, make_interaction, make_sale, make_staff
from tests.strategies.support import buy_every

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def engine() -> Iterator[None]:
    saved = (
        classification.engine.config,
        classification.engine.clock,
        classification.engine.timezone,
    )
    classification.configure(config=DEFAULT, clock=lambda: NOW, timezone="Europe/Moscow")
    yield
    classification.engine.config, classification.engine.clock, classification.engine.timezone = (
        saved
    )


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


async def count(database: Database, model: type) -> int:
    async with database.session() as s:
        return int((await s.exec(select(func.count()).select_from(model))).one()[0])


async def test_features_are_read_set_wise(database: Database) -> None:
    async with database.session() as s:
        a = await make_client(s, name="A")
        b = await make_client(s, name="B")
        await make_client(s, name="C", referred_by_id=a.id)
        paid = {"paid_date": ago(1)}
        await make_sale(
            s,
            a,
            date=ago(100),
            amount=Decimal(10_000),
            margin=Decimal(2_000),
            discount=True,
            **paid,
        )
        await make_sale(s, a, date=ago(70), amount=Decimal(20_000), margin=None, **paid)
        await make_sale(s, a, date=ago(40), amount=Decimal(5_000), margin=Decimal(1_000), **paid)
        await make_sale(s, a, date=ago(40), amount=Decimal(5_000), margin=Decimal(1_000), **paid)
        await make_sale(s, a, date=ago(35), amount=Decimal(-3_000), margin=Decimal(-600), **paid)
        await make_sale(
            s, a, date=ago(60), amount=Decimal(7_000), margin=Decimal(700), invoice_due=ago(45)
        )
        await make_sale(
            s, a, date=ago(20), amount=Decimal(1_000), margin=Decimal(100), invoice_due=ago(5)
        )
        await make_complaint(
            s, a, severity=Severity.HIGH, status=ComplaintStatus.OPEN,
            created_at=NOW - timedelta(days=5), due_at=NOW - timedelta(hours=1),
        )  # fmt: skip
        await make_complaint(
            s, a, severity=Severity.LOW, status=ComplaintStatus.RESOLVED, satisfaction=2,
            created_at=NOW - timedelta(days=100), due_at=NOW - timedelta(days=97),
        )  # fmt: skip
        await make_interaction(
            s, a, occurred_at=NOW - timedelta(days=10), next_step="call", next_step_due=ago(2)
        )
        ids = [a.id, b.id]
        conn = await s.connection()
        table = await features_repo.load_features(conn, today=TODAY, now=NOW)
        alone = await features_repo.load_features(conn, today=TODAY, now=NOW, client_ids=[a.id])
        # b has no sales, complaints or contacts: its one-client read meets only empty joins.
        quiet = await features_repo.load_features(conn, today=TODAY, now=NOW, client_ids=[b.id])
    i = table.client_id.tolist().index(ids[0])
    today = day_number(TODAY)
    expected = {
        "purchase_days": 5,  # two sales on one day are one purchase day
        "purchases": 6,
        "first_purchase": today - 100,
        "last_purchase": today - 20,
        "purchase_amount": 48_000.0,
        "revenue_90": 35_000.0,  # 20k + 7k + 10k + 1k − 3k
        "revenue_180": 45_000.0,
        "revenue_12m": 45_000.0,
        "margin_12m": 4_200.0,  # known margins, refund included
        "unknown_margin_12m": 20_000.0,
        "refunds_12m": 3_000.0,
        "refund_count_12m": 1,
        "purchases_12m": 6,
        "discounted": 1,
        "unpaid_count": 2,
        "unpaid_amount": 8_000.0,
        "oldest_unpaid_due": today - 45,
        "written_off_count": 1,  # only the one more than 30 days past due
        "written_off_amount": 7_000.0,
        # Purchase days 100, 70, 60, 40, 20 days ago: gaps 30, 10, 20, 20.
        "gap_count": 4,
        "gap_sum": 80.0,
        "gap_sqsum": 1_800.0,
        "complaints_12m": 2,
        "complaints_high": 1,
        "complaints_low": 1,
        "open_complaints": 1,
        "overdue_complaints": 1,
        "satisfaction_sum": 2.0,
        "satisfaction_n": 1,
        "overdue_steps": 1,
        "referrals": 1,
    }
    for name, value in expected.items():
        assert getattr(table, name)[i] == pytest.approx(value), name
    assert table.last_contact[i] == pytest.approx(day_number(TODAY) + 9.5 / 24 - 10, abs=1e-4)
    assert table.next_complaint_due[i] == pytest.approx(day_number(TODAY) + 8.5 / 24, abs=1e-4)
    j = table.client_id.tolist().index(ids[1])
    assert table.purchase_days[j] == 0 and math.isnan(table.last_purchase[j])
    for name in expected:  # a subset reads exactly what the whole base reads
        assert getattr(alone, name)[0] == pytest.approx(getattr(table, name)[i]), name
        assert getattr(quiet, name)[0] == pytest.approx(getattr(table, name)[j], nan_ok=True), name
    assert quiet.client_id.tolist() == [ids[1]]


async def _base(database: Database) -> dict[str, int]:
    """Three steady buyers, an advocate, a debtor, a lead."""
    async with database.session() as s:
        owner = await make_staff(s, team="north")
        ids = {}
        for name, every in (("steady1", 30), ("steady2", 20), ("steady3", 40)):
            client = await make_client(s, name=name, owner_id=owner.id)
            await buy_every(s, client, today=TODAY, days=every, count=12)
            ids[name] = client.id
        advocate = await make_client(s, name="advocate", owner_id=owner.id)
        await buy_every(s, advocate, today=TODAY, days=30, count=15)
        await make_client(s, name="friend", owner_id=owner.id, referred_by_id=advocate.id)
        debtor = await make_client(s, name="debtor", owner_id=owner.id)
        await buy_every(s, debtor, today=TODAY, days=20, count=8, amount="20000", margin="3000")
        await make_sale(
            s,
            debtor,
            date=ago(80),
            amount=Decimal(90_000),
            margin=Decimal(9_000),
            invoice_due=ago(66),
        )
        lead = await make_client(s, name="lead", owner_id=owner.id)
        ids |= {"advocate": advocate.id, "debtor": debtor.id, "lead": lead.id}
    return ids


async def test_recompute_writes_results_and_history(database: Database) -> None:
    ids = await _base(database)
    async with database.session() as s:
        before = {c.id: c.updated_at for c in (await s.exec(select(Client))).scalars()}
    async with database.session() as s:
        report = await classification.recompute(s, source="nightly")
    assert report.full and report.clients == 7
    assert report.changes == 7 and report.risk_changes == 7
    async with database.session() as s:
        clients = {c.id: c for c in (await s.exec(select(Client))).scalars()}
    advocate, debtor, lead = (clients[ids[k]] for k in ("advocate", "debtor", "lead"))
    assert (advocate.client_type, advocate.strategy) == (
        ClientType.ADVOCATE,
        Strategy.REWARD_INVEST,
    )
    assert advocate.classification_reasons[0]["key"] == "advocate"
    assert (debtor.client_type, debtor.strategy) == (ClientType.WORST, Strategy.COLLECT)
    assert debtor.segment_strategy == "cost_cut"
    assert (lead.client_type, lead.strategy, lead.p_alive) == (
        ClientType.POTENTIAL,
        Strategy.MANAGE,
        None,
    )
    for client in clients.values():
        assert client.classified_at == NOW and client.risk_computed_at == NOW
        assert client.risk_level is not None and client.risk_reasons
        assert client.updated_at == before[client.id]  # a recomputation is not an edit
    assert await count(database, ClassificationChange) == 7
    assert await count(database, RiskSnapshot) == 7
    assert await count(database, StrategyRun) == 1

    async with database.session() as s:
        again = await classification.recompute(s, source="nightly")
    assert again.changes == 0 and again.risk_changes == 0
    assert await count(database, ClassificationChange) == 7
    assert await count(database, StrategyRun) == 2


async def test_a_change_event_recomputes_one_client_with_the_stored_calibration(
    database: Database,
) -> None:
    ids = await _base(database)
    async with database.session() as s:
        await classification.recompute(s, source="nightly")
    async with database.session() as s:
        lead = await s.get(Client, ids["lead"])
        assert lead is not None
        for k in range(6):
            await make_sale(
                s, lead, date=ago(5 + 30 * k), amount=Decimal(40_000), margin=Decimal(9_000)
            )
        # The writer's own session and transaction: the subscriber works inside it.
        await events.client_inputs_changed(s, {ids["lead"]})
        assert lead.client_type is not ClientType.POTENTIAL  # loaded objects are refreshed too
    assert await count(database, StrategyRun) == 1  # no refit for one client
    async with database.session() as s:
        change = (
            (
                await s.exec(
                    select(ClassificationChange)
                    .where(ClassificationChange.client_id == ids["lead"])
                    .order_by(ClassificationChange.id.desc())
                )
            )
            .scalars()
            .first()
        )
    assert change is not None and change.source == "event"
    assert change.previous_type is ClientType.POTENTIAL


async def test_the_first_event_in_a_fresh_database_calibrates_the_whole_base(
    database: Database,
) -> None:
    ids = await _base(database)
    async with database.session() as s:
        await events.client_inputs_changed(s, {ids["lead"]})
    assert await count(database, StrategyRun) == 1
    async with database.session() as s:
        unclassified = (
            await s.exec(
                select(func.count()).select_from(Client).where(Client.client_type.is_(None))
            )
        ).one()[0]
    assert unclassified == 0


async def test_an_override_wins_and_released_clients_are_not_flagged(database: Database) -> None:
    ids = await _base(database)
    async with database.session() as s:
        client = await s.get(Client, ids["steady1"])
        assert client is not None
        client.strategy_override = Strategy.RELEASE
        client.override_reason = "moving abroad"
        await make_complaint(s, client, status=ComplaintStatus.OPEN, due_at=NOW - timedelta(days=2))
        await make_complaint(s, client, status=ComplaintStatus.OPEN, due_at=NOW - timedelta(days=3))
    async with database.session() as s:
        await classification.recompute(s, source="nightly")
        client = await s.get(Client, ids["steady1"])
    assert client is not None
    assert client.strategy is Strategy.REWARD_INVEST  # computed, kept
    assert client.segment_strategy == "cost_cut"  # follows the effective (manual) strategy
    assert (client.risk_score, client.risk_level) == (0, RiskLevel.LOW)
    assert client.risk_reasons == [{"key": "risk_not_flagged_released"}]


async def test_rescoring_risk_keeps_types_and_strategies(database: Database) -> None:
    ids = await _base(database)
    async with database.session() as s:
        await classification.recompute(s, source="nightly")
    later = NOW + timedelta(days=120)
    async with database.session() as s:
        report = await classification.rescore_risk(s, now=later)
    assert report.clients == 7 and report.changes == 0  # types and strategies are kept
    async with database.session() as s:
        steady = await s.get(Client, ids["steady2"])
    assert steady is not None
    assert steady.client_type in (ClientType.REGULAR, ClientType.BEST)
    assert steady.risk_computed_at == later and steady.classified_at == NOW
    assert steady.risk_level is RiskLevel.HIGH  # 123 days without a purchase, every 20 before
    assert steady.risk_reasons[0]["key"] == "risk_cadence"
    async with database.session() as s:
        trend = await repo.risk_levels_on(
            s, days=[TODAY, later.date()], scope=Scope(staff_id=0, role="admin")
        )
    assert trend[later.date()][RiskLevel.HIGH] > trend[TODAY][RiskLevel.HIGH]


async def test_an_import_recomputes_the_clients_it_touched(database: Database) -> None:
    ids = await _base(database)
    async with database.session() as s:
        await classification.recompute(s, source="nightly")
        lead = await s.get(Client, ids["lead"])
        assert lead is not None
        lead.external_id = "L-1"
    lines = ["client,date,amount,margin"] + [
        f"L-1,{ago(5 + 30 * k).isoformat()},40000,9000" for k in range(6)
    ]
    report = await import_sales_data(database, "\n".join(lines).encode(), "sales.csv")
    assert report.created == 6
    async with database.session() as s:
        lead = await s.get(Client, ids["lead"])
    assert lead is not None and lead.client_type is not ClientType.POTENTIAL
    assert lead.classified_at == NOW


async def test_answers_hide_actions_for_a_while(database: Database) -> None:
    async with database.session() as s:
        client = await make_client(s, name="x")
        assert client.id is not None
        for action, answer, days in (
            ("a", FeedbackAnswer.DONE, 3),
            ("b", FeedbackAnswer.DONE, 9),
            ("c", FeedbackAnswer.NOT_NOW, 1),
            ("d", FeedbackAnswer.NOT_APPLICABLE, 20),
        ):
            repo.add_feedback(
                s, client_id=client.id, staff_id=None, at=NOW - timedelta(days=days),
                action=action, playbook="manage", strategy="manage", answer=answer,
            )  # fmt: skip
        await s.flush()
        hidden = await repo.hidden_actions(
            s,
            client_id=client.id,
            now=NOW,
            hide_days={
                FeedbackAnswer.DONE: 7,
                FeedbackAnswer.NOT_NOW: 3,
                FeedbackAnswer.NOT_APPLICABLE: 30,
            },
        )
        stats = await repo.feedback_stats(
            s, scope=Scope(staff_id=0, role="admin"), since=NOW - timedelta(days=90)
        )
    assert hidden == {"a", "c", "d"}
    assert {(x.action, x.done, x.not_now, x.not_applicable) for x in stats} == {
        ("a", 1, 0, 0),
        ("b", 1, 0, 0),
        ("c", 0, 1, 0),
        ("d", 0, 0, 1),
    }


async def test_every_client_type_appears_in_a_seeded_demo(database: Database) -> None:
    await seed_demo(database, clients=700, seed=5, today=TODAY)
    report = await classification.classify_database(database, source="seed")
    assert report.clients == 700
    assert set(report.types) == {t.value for t in ClientType}
    assert set(report.strategies) == {s.value for s in Strategy}
    assert set(report.levels) == {level.value for level in RiskLevel}


async def test_a_failing_recomputation_never_loses_the_change(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await _base(sqlite_db)

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug in the analytics")

    monkeypatch.setattr(classification, "classify", broken)
    async with sqlite_db.session() as s:
        lead = await s.get(Client, ids["lead"])
        assert lead is not None
        await make_sale(s, lead, date=ago(1), amount=Decimal(1_000))
        await events.client_inputs_changed(s, {ids["lead"]})
    async with sqlite_db.session() as s:
        sales = (await s.exec(select(func.count()).select_from(Sale))).one()[0]
    assert sales == 12 * 3 + 15 + 8 + 1 + 1  # the new sale was saved
    assert "could not recompute clients" in caplog.text
