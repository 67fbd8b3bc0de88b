"""One person's morning digest: the clients worth an alert today, and a supervisor's team picture.

The risk itself is read from the columns the strategy engine stores on Client; this module only
decides what is news for this person (bot.strategies.alerting) and gathers what the message shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Role
from bot.strategies.alerting import Remembered, RiskState, Why, alert_reason
from db.models.alerts import AlertDelivery, AlertMemory
from db.repositories import alerts as repo
from db.repositories.scope import Scope, StaffLike

PAGE_SIZE = 10
TEAM_LINES = 15
COMPLAINT_LINES = 8


@dataclass(frozen=True)
class Item:
    """One client line: the client with its current risk, why it is news, its snooze."""

    client: repo.AtRisk
    why: Why | None = None
    snoozed_until: date | None = None


@dataclass
class TeamPicture:
    """What a supervisor sees: at-risk clients per manager, overdue critical complaints."""

    owners: list[repo.OwnerFigures]
    overdue: list[repo.Overdue]
    overdue_total: int

    @property
    def clients(self) -> int:
        return sum(o.clients for o in self.owners)

    @property
    def value(self) -> Decimal:
        return sum((o.value for o in self.owners), Decimal(0))

    @property
    def empty(self) -> bool:
        return not self.owners and not self.overdue_total


@dataclass
class Digest:
    """Today's digest of one person, and what to remember once it is delivered."""

    staff_id: int
    day: date
    items: list[Item]
    quiet: int  # other own clients still at risk and not snoozed: the footer points to /atrisk
    team: TeamPicture | None
    remember: dict[int, RiskState] = field(default_factory=dict)
    forget: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to send: no news about own clients and no team picture worth a message."""
        return not self.items and (self.team is None or self.team.empty)

    def ledger_items(self) -> list[dict[str, Any]]:
        """The clients as the ledger keeps them, so "show all" pages exactly this list."""
        return [{"id": i.client.id, "why": i.why.value if i.why else None} for i in self.items]


def is_supervisor(staff: StaffLike) -> bool:
    return staff.role in (Role.SUPERVISOR, Role.ADMIN)


def _remembered(memory: AlertMemory | None) -> Remembered | None:
    if memory is None:
        return None
    return Remembered(
        level=memory.level,
        score=memory.score,
        reasons=frozenset(memory.reason_keys or ()),
        snooze_until=memory.snooze_until,
    )


async def team_picture(session: AsyncSession, *, scope: Scope, now: datetime) -> TeamPicture:
    owners = await repo.owner_figures(session, scope=scope)
    overdue, total = await repo.overdue_critical(
        session, scope=scope, now=now, limit=COMPLAINT_LINES
    )
    return TeamPicture(owners=owners, overdue=overdue, overdue_total=total)


async def build(session: AsyncSession, *, staff: StaffLike, day: date, now: datetime) -> Digest:
    """The digest of `staff` for `day`, judged against what they were last alerted about."""
    assert staff.id is not None
    own = await repo.owned_at_risk(session, owner_id=staff.id)
    memory = await repo.memories(session, staff_id=staff.id)
    items: list[Item] = []
    remember: dict[int, RiskState] = {}
    quiet = 0
    for client in own:
        known = _remembered(memory.get(client.id))
        why = alert_reason(client.state, known, day)
        if why is not None:
            items.append(Item(client, why))
            remember[client.id] = client.state
        elif known is None or not known.snoozed(day):
            quiet += 1
    # Memory of a client that is no longer at risk is dropped, so a relapse is news again.
    owned = {c.id for c in own}
    elsewhere = [cid for cid in memory if cid not in owned]
    still = await repo.at_risk_ids(session, ids=elsewhere)
    forget = [cid for cid in elsewhere if cid not in still]
    team = None
    if is_supervisor(staff):
        team = await team_picture(session, scope=Scope.of(staff), now=now)
    return Digest(
        staff_id=staff.id,
        day=day,
        items=items,
        quiet=quiet,
        team=team,
        remember=remember,
        forget=forget,
    )


async def digest_items(
    session: AsyncSession, *, delivery: AlertDelivery, scope: Scope, today: date
) -> tuple[list[Item], int]:
    """The clients of a delivered digest with their current risk, and the quiet count."""
    order = [int(entry["id"]) for entry in delivery.items if entry.get("id") is not None]
    why = {int(e["id"]): e.get("why") for e in delivery.items if e.get("id") is not None}
    clients = await repo.clients_by_id(session, ids=order, scope=scope)
    snoozed = await repo.snoozes(
        session, staff_id=delivery.staff_id, client_ids=list(clients), today=today
    )
    items = [
        Item(clients[cid], Why(why[cid]) if why.get(cid) else None, snoozed.get(cid))
        for cid in order
        if cid in clients
    ]
    own = await repo.owned_at_risk(session, owner_id=delivery.staff_id)
    others = [c.id for c in own if c.id not in why]
    quiet_snoozed = await repo.snoozes(
        session, staff_id=delivery.staff_id, client_ids=others, today=today
    )
    return items, len(others) - len(quiet_snoozed)


async def at_risk_items(
    session: AsyncSession, *, scope: Scope, viewer_id: int, page: int, today: date
) -> tuple[list[Item], int]:
    """One page of the clients at risk in a scope (for /atrisk), and how many there are."""
    clients, total = await repo.at_risk_page(
        session, scope=scope, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    snoozed = await repo.snoozes(
        session, staff_id=viewer_id, client_ids=[c.id for c in clients], today=today
    )
    return [Item(c, None, snoozed.get(c.id)) for c in clients], total


def page_of(items: Sequence[Item], page: int) -> list[Item]:
    return list(items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])


def pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))
