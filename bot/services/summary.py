"""Supervisor summaries: where the clients, the money and the risk are, for a scope or a segment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ClientType, Strategy
from db.repositories import summary as repo
from db.repositories.scope import Scope

UNCLASSIFIED = "unclassified"
TOP_MANAGERS = 8
TREND_WEEKS = 8


@dataclass
class Segment:
    """Figures of one slice of the client base, with its shares of the whole."""

    key: str
    clients: int = 0
    revenue: Decimal = Decimal(0)
    margin: Decimal = Decimal(0)
    at_risk: int = 0
    value_at_risk: Decimal = Decimal(0)
    client_share: float = 0.0
    revenue_share: float = 0.0
    margin_share: float = 0.0

    def add(self, group: repo.Group) -> None:
        self.clients += group.clients
        self.revenue += group.revenue
        self.margin += group.margin
        self.at_risk += group.at_risk
        self.value_at_risk += group.value_at_risk


@dataclass
class Summary:
    narrow: repo.Narrow | None
    total: Segment
    by_type: list[Segment]
    by_strategy: list[Segment]
    by_manager: list[Segment]
    manager_names: dict[str, str]
    complaints: repo.ComplaintFigures
    movement: repo.Movement
    trend: list[tuple[date, int]]
    teams: list[str] = field(default_factory=list)


def _shares(segments: Iterable[Segment], total: Segment) -> None:
    for s in segments:
        s.client_share = s.clients / total.clients if total.clients else 0.0
        s.revenue_share = float(s.revenue / total.revenue) if total.revenue > 0 else 0.0
        s.margin_share = float(s.margin / total.margin) if total.margin > 0 else 0.0


def roll_up(
    groups: Iterable[repo.Group],
) -> tuple[Segment, list[Segment], list[Segment], list[Segment]]:
    """Totals, then the same figures by client type, by strategy and by owner."""
    total = Segment("total")
    types: dict[str, Segment] = {}
    strategies: dict[str, Segment] = {}
    owners: dict[str, Segment] = defaultdict(lambda: Segment(""))
    for g in groups:
        total.add(g)
        ctype = g.client_type or UNCLASSIFIED
        types.setdefault(ctype, Segment(ctype)).add(g)
        strategy = g.strategy or UNCLASSIFIED
        strategies.setdefault(strategy, Segment(strategy)).add(g)
        if g.owner_id is not None:
            owner = owners[str(g.owner_id)]
            owner.key = str(g.owner_id)
            owner.add(g)
    type_order = [t.value for t in ClientType] + [UNCLASSIFIED]
    strategy_order = [s.value for s in Strategy] + [UNCLASSIFIED]
    by_type = [types[k] for k in type_order if k in types]
    by_strategy = [strategies[k] for k in strategy_order if k in strategies]
    by_manager = sorted(owners.values(), key=lambda s: (-s.value_at_risk, -s.at_risk, s.key))
    _shares([total, *by_type, *by_strategy, *by_manager], total)
    return total, by_type, by_strategy, by_manager


def year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day - timedelta(days=365)


async def build(
    session: AsyncSession, *, scope: Scope, narrow: repo.Narrow | None, today: date, now: datetime
) -> Summary:
    """Everything a summary shows, for the scope narrowed to one segment or person if asked."""
    groups = await repo.groups(
        session, scope=scope, narrow=narrow, since=year_before(today), today=today
    )
    total, by_type, by_strategy, by_manager = roll_up(groups)
    names = await repo.staff_names(session, ids=[int(m.key) for m in by_manager])
    figures = await repo.complaints(
        session, scope=scope, narrow=narrow, now=now, since=now - timedelta(days=365)
    )
    weeks = [today - timedelta(weeks=w) for w in range(TREND_WEEKS - 1, -1, -1)]
    return Summary(
        narrow=narrow,
        total=total,
        by_type=by_type,
        by_strategy=by_strategy,
        by_manager=by_manager,
        manager_names={str(k): v for k, v in names.items()},
        complaints=figures,
        movement=await repo.movement(
            session, scope=scope, narrow=narrow, since=today - timedelta(days=7)
        ),
        trend=await repo.at_risk_trend(session, scope=scope, narrow=narrow, days=weeks),
        teams=await repo.teams(session, scope=scope),
    )
