"""Complaints (рекламации): filing with an SLA due date, the status life cycle, satisfaction.

Like the logging service, these only add to the caller's session; the caller commits once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ComplaintCategory, ComplaintStatus, Severity
from bot.services import events
from bot.services.interactions import change, record
from db.models import Complaint
from db.models.activity import TEXT_MAX as COMPLAINT_TEXT_MAX
from db.repositories import audit
from db.repositories import complaints as complaints_repo

TEXT_MAX = COMPLAINT_TEXT_MAX
RESOLUTION_MAX = 2000
AUDITED = ["category", "severity", "text", "status", "due_at", "staff_id"]


class StatusRefused(Exception):
    """The complaint is no longer in a state that allows this (someone closed it meanwhile)."""


def due_at(now: datetime, severity: Severity, sla_hours: Mapping[str, int]) -> datetime:
    """When a complaint of this severity logged now must be dealt with."""
    return now + timedelta(hours=sla_hours[severity.value])


async def file_complaint(
    session: AsyncSession,
    *,
    author_id: int,
    client_id: int,
    category: ComplaintCategory,
    severity: Severity,
    text: str,
    now: datetime,
    sla_hours: Mapping[str, int],
) -> Complaint:
    """Add an open complaint due by its severity's SLA, audited."""
    row = Complaint(
        client_id=client_id,
        staff_id=author_id,
        category=category,
        severity=severity,
        text=text,
        status=ComplaintStatus.OPEN,
        due_at=due_at(now, severity, sla_hours),
        created_at=now,
        updated_at=now,
    )
    await complaints_repo.add(session, row=row)
    record(
        session,
        action="create",
        row=row,
        actor_id=author_id,
        now=now,
        after=audit.snapshot(row, AUDITED),
    )
    await events.client_inputs_changed(session, {client_id})
    return row


async def take(session: AsyncSession, *, row: Complaint, actor_id: int, now: datetime) -> None:
    """Open → in progress."""
    if row.status != ComplaintStatus.OPEN:
        raise StatusRefused(row.status)
    await change(session, row=row, actor_id=actor_id, now=now, status=ComplaintStatus.IN_PROGRESS)


async def close(
    session: AsyncSession,
    *,
    row: Complaint,
    status: ComplaintStatus,
    text: str,
    actor_id: int,
    now: datetime,
) -> None:
    """Resolve (with the resolution) or reject (with the reason) an open complaint."""
    if not row.status.is_open:
        raise StatusRefused(row.status)
    assert status in (ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED)
    await change(
        session,
        row=row,
        actor_id=actor_id,
        now=now,
        status=status,
        resolution=text,
        resolved_at=now,
    )


async def rate(
    session: AsyncSession, *, row: Complaint, score: int, actor_id: int, now: datetime
) -> None:
    """The client's satisfaction with how a resolved complaint was handled, 1–5."""
    if row.status != ComplaintStatus.RESOLVED:
        raise StatusRefused(row.status)
    if not 1 <= score <= 5:
        raise ValueError(score)
    await change(session, row=row, actor_id=actor_id, now=now, satisfaction=score)


async def mark_escalated(
    session: AsyncSession, *, row: Complaint, now: datetime, notified: list[int]
) -> None:
    """Remember that the supervisors were reached (audited as the system's doing)."""
    row.escalated_at = now
    session.add(row)
    entry = audit.record(
        session,
        actor="system",
        action="escalate",
        entity="complaint",
        entity_id=row.id,
        client_id=row.client_id,
        after={"escalated_at": now, "notified_staff_ids": notified},
    )
    entry.at = now
