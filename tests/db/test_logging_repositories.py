"""Interactions, complaints, timeline and audit queries on every engine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select

from bot.domain import ComplaintCategory, ComplaintStatus, InteractionKind, Outcome, Role, Severity
from bot.services import complaints as complaints_service
from bot.services import interactions as interactions_service
from db.models import AuditLog, Complaint, Interaction
from db.repositories import complaints as complaints_repo
from db.repositories import history as history_repo
from db.repositories import interactions as interactions_repo
from db.repositories.scope import Scope
from db.session import Database
from tests.factories import make_client, make_complaint, make_interaction, make_sale, make_staff

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
SLA = {"low": 72, "medium": 48, "high": 24, "critical": 4}


async def test_due_steps_are_mine_in_scope_oldest_first(database: Database) -> None:
    async with database.session() as s:
        anna = await make_staff(s, team="A")
        boris = await make_staff(s, team="B")
        mine = await make_client(s, name="Mine", owner_id=anna.id)
        theirs = await make_client(s, name="Theirs", owner_id=boris.id)
        assert anna.id is not None
        await make_interaction(s, mine, staff_id=anna.id, next_step="today", next_step_due=TODAY)
        await make_interaction(
            s, mine, staff_id=anna.id, next_step="late", next_step_due=TODAY - timedelta(3)
        )
        await make_interaction(s, mine, next_step="imported", next_step_due=TODAY)  # no author
        await make_interaction(
            s, mine, staff_id=anna.id, next_step="later", next_step_due=TODAY + timedelta(1)
        )
        await make_interaction(
            s, mine, staff_id=anna.id, next_step="done", next_step_due=TODAY,
            next_step_done_at=NOW,
        )  # fmt: skip
        await make_interaction(s, theirs, staff_id=boris.id, next_step="b", next_step_due=TODAY)
        # A step I planned on a client who is no longer mine is out of my scope.
        await make_interaction(s, theirs, staff_id=anna.id, next_step="gone", next_step_due=TODAY)
        scope = Scope.of(anna)
        steps, total = await interactions_repo.due_steps(
            s, staff_id=anna.id, scope=scope, until=TODAY, limit=2
        )
        assert total == 3
        assert [x.step for x in steps] == ["late", "today"]
        rest, _ = await interactions_repo.due_steps(
            s, staff_id=anna.id, scope=scope, until=TODAY, limit=2, offset=2
        )
        assert [x.step for x in rest] == ["imported"]
        assert rest[0].client_name == "Mine"


async def test_timeline_merges_three_sources_newest_first(database: Database) -> None:
    async with database.session() as s:
        anna = await make_staff(s, name="Анна")
        client = await make_client(s, owner_id=anna.id)
        await make_interaction(s, client, staff_id=anna.id, occurred_at=NOW - timedelta(days=1))
        await make_interaction(s, client, occurred_at=NOW - timedelta(days=3))
        await make_complaint(s, client, created_at=NOW - timedelta(days=2), staff_id=anna.id)
        await make_sale(s, client, date=(NOW - timedelta(days=4)).date(), amount=Decimal("10"))
        await make_sale(s, client, date=TODAY, amount=Decimal("20"))
        assert client.id is not None
        counts = await history_repo.counts(s, client_id=client.id)
        assert (counts.interactions, counts.complaints, counts.sales) == (2, 1, 2)
        page, more = await history_repo.timeline(s, client_id=client.id, limit=3)
        assert [i.kind for i in page] == ["sale", "interaction", "complaint"]
        assert more and page[1].author == "Анна"
        rest, more = await history_repo.timeline(s, client_id=client.id, limit=3, offset=3)
        assert [i.kind for i in rest] == ["interaction", "sale"] and not more


async def test_open_complaints_in_scope_earliest_due_first(database: Database) -> None:
    async with database.session() as s:
        anna = await make_staff(s, team="A")
        sveta = await make_staff(s, team="A", role=Role.SUPERVISOR)
        boris = await make_staff(s, team="B")
        a = await make_client(s, name="A", owner_id=anna.id)
        b = await make_client(s, name="B", owner_id=boris.id)
        await make_complaint(s, a, text="later", due_at=NOW + timedelta(hours=5))
        await make_complaint(s, a, text="overdue", due_at=NOW - timedelta(hours=5))
        await make_complaint(s, a, text="working", due_at=NOW, status=ComplaintStatus.IN_PROGRESS)
        await make_complaint(s, a, text="closed", status=ComplaintStatus.RESOLVED)
        await make_complaint(s, b, text="other team", due_at=NOW - timedelta(days=9))
        rows, total = await complaints_repo.open_in_scope(s, scope=Scope.of(anna), limit=10)
        assert [r.complaint.text for r in rows] == ["overdue", "working", "later"] and total == 3
        rows, total = await complaints_repo.open_in_scope(s, scope=Scope.of(sveta), limit=10)
        assert total == 3
        admin = await make_staff(s, role=Role.ADMIN)
        _, total = await complaints_repo.open_in_scope(s, scope=Scope.of(admin), limit=1)
        assert total == 4


async def test_escalation_goes_to_team_supervisors_else_admins(database: Database) -> None:
    async with database.session() as s:
        anna = await make_staff(s, team="A")
        lone = await make_staff(s, team="Z")
        sveta = await make_staff(s, name="Sveta", team="A", role=Role.SUPERVISOR)
        await make_staff(s, name="Old", team="A", role=Role.SUPERVISOR, active=False)
        await make_staff(s, name="Other", team="B", role=Role.SUPERVISOR)
        admin = await make_staff(s, name="Admin", role=Role.ADMIN)
        found = await complaints_repo.escalation_recipients(s, owner_id=anna.id, exclude_id=anna.id)
        assert [p.name for p in found] == ["Sveta"]
        found = await complaints_repo.escalation_recipients(s, owner_id=lone.id, exclude_id=None)
        assert [p.id for p in found] == [admin.id]
        found = await complaints_repo.escalation_recipients(s, owner_id=None, exclude_id=None)
        assert [p.id for p in found] == [admin.id]
        # The supervisor filing it does not notify themself; the admins hear instead.
        found = await complaints_repo.escalation_recipients(
            s, owner_id=anna.id, exclude_id=sveta.id
        )
        assert [p.id for p in found] == [admin.id]


async def test_logging_is_audited_and_a_follow_up_closes_the_step(database: Database) -> None:
    async with database.session() as s:
        anna = await make_staff(s)
        client = await make_client(s, owner_id=anna.id)
        assert anna.id is not None and client.id is not None
        first = await make_interaction(
            s, client, staff_id=anna.id, next_step="call back", next_step_due=TODAY
        )
        row = await interactions_service.log_interaction(
            s, author_id=anna.id, client_id=client.id, kind=InteractionKind.CALL,
            outcome=Outcome.POSITIVE, text="called back", now=NOW, step="send PO",
            due=TODAY + timedelta(3), follow_up_of=first.id,
        )  # fmt: skip
        row_id, first_id = row.id, first.id
    async with database.session() as s:
        stored = await s.get(Interaction, row_id)
        closed = await s.get(Interaction, first_id)
        assert stored and stored.created_at == NOW and stored.next_step_due == date(2026, 11, 23)
        assert closed and closed.next_step_done_at == NOW
        trail = (await s.exec(select(AuditLog).order_by(col(AuditLog.id)))).all()
        assert [(a.action, a.entity_id, a.at) for a in trail] == [
            ("create", row_id, NOW),
            ("update", first_id, NOW),
        ]
        assert trail[0].after and trail[0].after["kind"] == "call"


async def test_editing_is_for_the_author_within_24_hours(database: Database) -> None:
    async with database.session() as s:
        anna = await make_staff(s)
        boris = await make_staff(s)
        client = await make_client(s)
        assert anna.id is not None and boris.id is not None
        row = await make_interaction(s, client, staff_id=anna.id, created_at=NOW)
        imported = await make_interaction(
            s, client, staff_id=anna.id, created_at=NOW, import_key="k1"
        )
    check = interactions_service.check_editable
    check(row, staff_id=anna.id, now=NOW + timedelta(hours=24))
    for who, when, reason in [
        (boris.id, NOW, "not_author"),
        (anna.id, NOW + timedelta(hours=24, seconds=1), "too_late"),
    ]:
        with pytest.raises(interactions_service.EditRefused) as refused:
            check(row, staff_id=who, now=when)
        assert refused.value.reason == reason
    with pytest.raises(interactions_service.EditRefused) as refused:
        check(imported, staff_id=anna.id, now=NOW)
    assert refused.value.reason == "imported"


async def test_complaint_life_cycle_rules(database: Database) -> None:
    async with database.session() as s:
        anna = await make_staff(s)
        client = await make_client(s)
        assert anna.id is not None and client.id is not None
        row = await complaints_service.file_complaint(
            s, author_id=anna.id, client_id=client.id, category=ComplaintCategory.BILLING,
            severity=Severity.CRITICAL, text="double invoice", now=NOW, sla_hours=SLA,
        )  # fmt: skip
        assert row.due_at == NOW + timedelta(hours=4)
        with pytest.raises(complaints_service.StatusRefused):
            await complaints_service.rate(s, row=row, score=5, actor_id=anna.id, now=NOW)
        await complaints_service.take(s, row=row, actor_id=anna.id, now=NOW)
        with pytest.raises(complaints_service.StatusRefused):
            await complaints_service.take(s, row=row, actor_id=anna.id, now=NOW)
        await complaints_service.close(
            s, row=row, status=ComplaintStatus.RESOLVED, text="credited", actor_id=anna.id,
            now=NOW,
        )  # fmt: skip
        with pytest.raises(complaints_service.StatusRefused):
            await complaints_service.close(
                s, row=row, status=ComplaintStatus.REJECTED, text="no", actor_id=anna.id, now=NOW
            )
        with pytest.raises(ValueError):
            await complaints_service.rate(s, row=row, score=6, actor_id=anna.id, now=NOW)
        await complaints_service.rate(s, row=row, score=5, actor_id=anna.id, now=NOW)
        row_id = row.id
    async with database.session() as s:
        stored = await s.get(Complaint, row_id)
        assert stored and stored.satisfaction == 5 and stored.resolved_at == NOW
        actions = (await s.exec(select(AuditLog.action).order_by(col(AuditLog.id)))).all()
        assert actions == ["create", "update", "update", "update"]
        entries, more = await history_repo.audit_trail(s, client_id=client.id, limit=3)
        assert [e.row.action for e in entries] == ["update", "update", "update"] and more
        assert entries[0].row.after == {"satisfaction": 5}
