"""Interactions: scoped lookups, next steps due, and the writes the logging service makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Client, Interaction
from db.repositories.scope import Scope


async def add(session: AsyncSession, *, row: Interaction) -> Interaction:
    """Insert and flush, so the id is known for the audit row."""
    session.add(row)
    await session.flush()
    return row


async def get_in_scope(
    session: AsyncSession, *, interaction_id: int, scope: Scope
) -> tuple[Interaction, Client] | None:
    """The interaction with its client, if the client is in scope; None otherwise."""
    stmt = (
        select(Interaction, Client)
        .join(Client, col(Client.id) == col(Interaction.client_id))
        .where(Interaction.id == interaction_id, scope.clients())
    )
    row = (await session.exec(stmt)).first()
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class DueStep:
    """A planned next step that is due: what, for whom, since when."""

    interaction_id: int
    client_id: int
    client_name: str
    company: str | None
    step: str | None
    due: date


def _mine(staff_id: int):  # type: ignore[no-untyped-def]
    # Steps I planned, plus steps on my clients that came without an author (imports).
    return or_(
        col(Interaction.staff_id) == staff_id,
        col(Interaction.staff_id).is_(None) & (col(Client.owner_id) == staff_id),
    )


async def due_steps(
    session: AsyncSession, *, staff_id: int, scope: Scope, until: date, limit: int, offset: int = 0
) -> tuple[list[DueStep], int]:
    """My open next steps due on or before `until`, oldest first, and how many there are."""
    where = (
        col(Interaction.next_step_due).is_not(None),
        col(Interaction.next_step_due) <= until,
        col(Interaction.next_step_done_at).is_(None),
        _mine(staff_id),
        scope.clients(),
    )
    joined = select(Interaction.id).join(Client, col(Client.id) == col(Interaction.client_id))
    total = (
        await session.exec(select(func.count()).select_from(joined.where(*where).subquery()))
    ).one()
    stmt = (
        select(
            Interaction.id,
            Interaction.client_id,
            Client.name,
            Client.company,
            Interaction.next_step,
            Interaction.next_step_due,
        )
        .join(Client, col(Client.id) == col(Interaction.client_id))
        .where(*where)
        .order_by(col(Interaction.next_step_due), col(Interaction.id))
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.exec(stmt)).all()
    return [DueStep(*row) for row in rows], int(total)
