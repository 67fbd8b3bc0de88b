"""Hand-made clients for the strategy engine's tests: purchase histories in a few lines."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Client
from tests.factories import make_sale


async def buy_every(
    session: AsyncSession,
    client: Client,
    *,
    today: date,
    days: int,
    count: int,
    last_days_ago: int = 3,
    amount: str = "50000",
    margin: str | None = "12000",
    **fields: Any,
) -> None:
    """`count` purchases `days` apart, the latest `last_days_ago` days before `today`."""
    for k in range(count):
        day = today - timedelta(days=last_days_ago + k * days)
        await make_sale(
            session,
            client,
            date=day,
            amount=Decimal(amount),
            margin=Decimal(margin) if margin is not None else None,
            invoice_due=day + timedelta(days=14),
            paid_date=day + timedelta(days=10),
            **fields,
        )


# --- hand-made feature rows for the pure rules ----------------------------------------------

TODAY = date(2026, 11, 20)
TODAY_N = 20_777  # its day number (days since 1970-01-01)
NOW_DAY = TODAY_N + 0.4  # about 09:36 UTC that day


def rows(*clients: dict[str, Any]) -> Any:
    """A feature table with one row per dict; unnamed features keep "nothing happened"."""
    from bot.strategies.features import FeatureTable, day_number

    table = FeatureTable.build(TODAY, NOW_DAY, list(range(1, len(clients) + 1)))
    today = day_number(TODAY)
    table.created[:] = today - 400
    for i, values in enumerate(clients):
        for name, value in values.items():
            if name == "last_days_ago":
                table.last_purchase[i] = today - value
            elif name == "first_days_ago":
                table.first_purchase[i] = today - value
            elif name == "created_days_ago":
                table.created[i] = today - value
            elif name == "contact_days_ago":
                table.last_contact[i] = NOW_DAY - value
            else:
                getattr(table, name)[i] = value
    return table


def steady(every: float, count: int, last: float = 3, **more: Any) -> dict[str, Any]:
    """A client buying every `every` days, `count` times, the last `last` days ago."""
    gaps = count - 1
    return {
        "purchase_days": count,
        "purchases": count,
        "first_days_ago": last + gaps * every,
        "last_days_ago": last,
        "gap_count": gaps,
        "gap_sum": gaps * every,
        "gap_sqsum": gaps * every * every,
        **more,
    }
