"""Complaints: scoped lookups, the open list, and who hears about a critical one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ComplaintStatus, Role, Severity
from db.models import Client, Complaint, Staff
from db.repositories.scope import Scope

OPEN = (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)


async def add(session: AsyncSession, *, row: Complaint) -> Complaint:
    """Insert and flush, so the id is known for the audit row."""
    session.add(row)
    await session.flush()
    return row


async def get_in_scope(
    session: AsyncSession, *, complaint_id: int, scope: Scope
) -> tuple[Complaint, Client] | None:
    """The complaint with its client, if the client is in scope; None otherwise."""
    stmt = (
        select(Complaint, Client)
        .join(Client, col(Client.id) == col(Complaint.client_id))
        .where(Complaint.id == complaint_id, scope.clients())
    )
    row = (await session.exec(stmt)).first()
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class OpenComplaint:
    complaint: Complaint
    client_name: str


async def open_in_scope(
    session: AsyncSession, *, scope: Scope, limit: int, offset: int = 0
) -> tuple[list[OpenComplaint], int]:
    """Open and in-progress complaints in scope, earliest due first (so overdue ones lead)."""
    where = (col(Complaint.status).in_(OPEN), scope.clients())
    base = select(Complaint.id).join(Client, col(Client.id) == col(Complaint.client_id))
    total = (
        await session.exec(select(func.count()).select_from(base.where(*where).subquery()))
    ).one()
    stmt = (
        select(Complaint, Client.name)
        .join(Client, col(Client.id) == col(Complaint.client_id))
        .where(*where)
        .order_by(col(Complaint.due_at), col(Complaint.id))
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.exec(stmt)).all()
    return [OpenComplaint(complaint, name) for complaint, name in rows], int(total)


async def escalation_recipients(
    session: AsyncSession, *, owner_id: int | None, exclude_id: int | None
) -> list[Staff]:
    """Active supervisors of the owner's team; when there are none, the active admins."""
    team = None
    if owner_id is not None:
        team = (await session.exec(select(Staff.team).where(Staff.id == owner_id))).first()
    active = (col(Staff.active).is_(True), col(Staff.id) != (exclude_id or -1))
    if team:
        stmt = select(Staff).where(Staff.role == Role.SUPERVISOR, Staff.team == team, *active)
        supervisors = list((await session.exec(stmt.order_by(col(Staff.id)))).all())
        if supervisors:
            return supervisors
    stmt = select(Staff).where(Staff.role == Role.ADMIN, *active).order_by(col(Staff.id))
    return list((await session.exec(stmt)).all())


async def unescalated_critical(
    session: AsyncSession, *, created_after: datetime, created_before: datetime
) -> list[tuple[Complaint, Client, str | None]]:
    """Open critical complaints whose supervisors have not been reached yet, with the author."""
    stmt = (
        select(Complaint, Client, Staff.name)
        .join(Client, col(Client.id) == col(Complaint.client_id))
        .outerjoin(Staff, col(Staff.id) == col(Complaint.staff_id))
        .where(
            Complaint.severity == Severity.CRITICAL,
            col(Complaint.status).in_(OPEN),
            col(Complaint.escalated_at).is_(None),
            col(Complaint.created_at) > created_after,
            col(Complaint.created_at) < created_before,
        )
        .order_by(col(Complaint.id))
    )
    return [(c, client, name) for c, client, name in (await session.exec(stmt)).all()]
