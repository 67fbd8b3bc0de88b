"""Summary figures from the grouped queries agree on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from bot.domain import ClientType, ComplaintStatus, RiskLevel, Role, Strategy
from bot.services import summary
from db.repositories.scope import Scope
from db.repositories.summary import Narrow
from db.session import Database
from tests.factories import make_client, make_complaint, make_sale, make_staff

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


async def test_figures_by_type_strategy_and_owner(database: Database) -> None:
    async with database.session() as s:
        anna = await make_staff(s, team="north")
        boris = await make_staff(s, team="south")
        sup = await make_staff(s, role=Role.SUPERVISOR, team="north")
        best = await make_client(
            s,
            owner_id=anna.id,
            client_type=ClientType.BEST,
            strategy=Strategy.MANAGE,
            strategy_override=Strategy.REWARD_INVEST,
            risk_level=RiskLevel.HIGH,
            value_at_risk=Decimal("700"),
        )
        worst = await make_client(s, owner_id=anna.id, client_type=ClientType.WORST,
                                  strategy=Strategy.RELEASE)  # fmt: skip
        await make_client(s, owner_id=anna.id)  # not classified yet
        await make_client(s, owner_id=boris.id, client_type=ClientType.BEST)
        await make_sale(s, best, date=date(2026, 6, 1), amount=Decimal("900"), margin=Decimal("90"))
        await make_sale(s, best, date=date(2025, 6, 1), amount=Decimal("5000"))  # too old
        await make_sale(s, worst, date=date(2026, 6, 1), amount=Decimal("100"),
                        margin=Decimal("-30"))  # fmt: skip
        await make_complaint(s, worst, due_at=datetime(2026, 11, 1, tzinfo=UTC))
        await make_complaint(s, best, status=ComplaintStatus.RESOLVED, satisfaction=3,
                             resolved_at=datetime(2026, 10, 1, tzinfo=UTC))  # fmt: skip
        scope = Scope.of(sup)
    async with database.session() as s:
        result = await summary.build(s, scope=scope, narrow=None, today=NOW.date(), now=NOW)
        narrowed = await summary.build(
            s, scope=scope, narrow=Narrow("strategy", "reward_invest"), today=NOW.date(), now=NOW
        )
    assert result.total.clients == 3
    assert result.total.revenue == Decimal("1000.00")
    assert result.total.margin == Decimal("60.00")
    assert [(x.key, x.clients) for x in result.by_type] == [
        ("best", 1), ("worst", 1), ("unclassified", 1)
    ]  # fmt: skip
    assert {x.key: x.revenue_share for x in result.by_strategy}["reward_invest"] == 0.9
    assert result.total.at_risk == 1 and result.total.value_at_risk == Decimal("700.00")
    assert result.complaints.open == 1 and result.complaints.overdue == 1
    assert result.complaints.satisfaction_avg == 3.0
    assert [m.key for m in result.by_manager] == [str(anna.id)]
    assert narrowed.total.clients == 1 and narrowed.total.revenue == Decimal("900.00")


async def test_movement_and_trend_from_history(database: Database) -> None:
    from datetime import timedelta

    from db.models.strategy import ClassificationChange, RiskSnapshot

    today = NOW.date()
    async with database.session() as s:
        admin = await make_staff(s, role=Role.ADMIN)
        a = await make_client(s, risk_level=RiskLevel.HIGH)  # entered risk this week
        b = await make_client(s, risk_level=RiskLevel.HIGH)  # was at risk already
        c = await make_client(s, strategy=Strategy.RELEASE)  # released this week

        def change(client, days_ago, **kw):  # type: ignore[no-untyped-def]
            day = today - timedelta(days=days_ago)
            return ClassificationChange(
                client_id=client.id, at=NOW, day=day, source="nightly", **kw
            )

        def risk(client, days_ago, level):  # type: ignore[no-untyped-def]
            day = today - timedelta(days=days_ago)
            return RiskSnapshot(client_id=client.id, day=day, at=NOW, score=50, level=level)

        s.add_all(
            [
                change(a, 3, client_type=ClientType.REGULAR, strategy=Strategy.MANAGE),
                change(c, 2, strategy=Strategy.RELEASE, previous_strategy=Strategy.MANAGE),
                change(b, 30, client_type=ClientType.BEST),  # an old change does not count
                risk(a, 20, RiskLevel.LOW),
                risk(a, 2, RiskLevel.HIGH),
                risk(b, 20, RiskLevel.MEDIUM),
                risk(b, 1, RiskLevel.HIGH),
            ]
        )
        scope = Scope.of(admin)
    async with database.session() as s:
        result = await summary.build(s, scope=scope, narrow=None, today=today, now=NOW)
    assert (result.movement.changed, result.movement.new_at_risk, result.movement.released) == (
        2, 1, 1
    )  # fmt: skip
    assert len(result.trend) == 8 and result.trend[-1] == (today, 2)
    assert [n for _, n in result.trend][-4:] == [0, 1, 1, 2]  # b from 20 days ago, a from 2
