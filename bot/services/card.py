"""The client card: everything a manager needs to see about one client, gathered in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Client, Complaint, Interaction
from db.repositories import clients as clients_repo
from db.repositories.scope import Scope


@dataclass
class Card:
    client: Client
    owner: str | None
    last: Interaction | None
    next_step: Interaction | None
    complaints: list[Complaint]
    value: clients_repo.Value
    today: date
    now: datetime
    recommendations: list[Any] = field(default_factory=list)

    @property
    def overdue_complaints(self) -> int:
        return sum(1 for c in self.complaints if c.due_at < self.now)


async def load_card(
    session: AsyncSession, *, client_id: int, scope: Scope, today: date, now: datetime
) -> Card | None:
    """The card of a client in scope, or None when there is no such client for this user."""
    data = await clients_repo.card_data(session, client_id=client_id, scope=scope, today=today)
    if data is None:
        return None
    complaints = []
    if data.open_complaints:
        complaints = await clients_repo.open_complaints(session, client_id=client_id)
    return Card(
        client=data.client,
        owner=data.owner,
        last=data.last,
        next_step=data.next_step,
        complaints=complaints,
        value=data.value,
        today=today,
        now=now,
    )
