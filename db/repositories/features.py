"""The strategy engine's feature table, read set-wise: a few GROUP BY queries for all clients.

No query runs per client: the whole base (or a set of client ids, in chunks) is read with one
aggregate per table — sales, complaints, interactions, clients — plus, for classification, one
window query for the gaps between purchase days. Money sums come back as floats in kopecks and
dates as day numbers, so numpy gets plain numbers without per-value Python conversion.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import (
    Float,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from bot.domain import ComplaintStatus, Severity
from bot.strategies.features import FeatureTable
from db.models import Client, Complaint, Interaction, Sale

SALE = Sale.__table__  # type: ignore[attr-defined]
CLIENT = Client.__table__  # type: ignore[attr-defined]
COMPLAINT = Complaint.__table__  # type: ignore[attr-defined]
INTERACTION = Interaction.__table__  # type: ignore[attr-defined]
CHUNK = 5000  # ids per IN (...), well below both engines' bind-parameter limits
OPEN = [ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS]


class epoch_days(FunctionElement[float]):
    """Days since 1970-01-01 of a DATE or a UTC TIMESTAMP, fractional for timestamps."""

    type = Float()
    inherit_cache = True


@compiles(epoch_days, "sqlite")
def _epoch_days_sqlite(element: epoch_days, compiler: Any, **kw: Any) -> str:
    return f"(julianday({compiler.process(element.clauses, **kw)}) - 2440587.5)"


@compiles(epoch_days, "postgresql")
def _epoch_days_postgresql(element: epoch_days, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(EPOCH FROM {inner}) / 86400.0 AS DOUBLE PRECISION)"


def _fsum(expr: Any, where: ColumnElement[bool] | None = None) -> Any:
    total = func.sum(expr) if where is None else func.sum(expr).filter(where)
    return cast(total, Float)


def _count(where: ColumnElement[bool]) -> Any:
    return func.count().filter(where)


def months_back(day: date, months: int) -> date:
    """The same calendar boundary the card uses for its 12-month and 6-month figures."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, 28))


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _sales_columns(*, money: bool) -> list[Any]:
    c = SALE.c
    bought = c.amount > 0
    columns = [
        c.client_id,
        func.count(c.date.distinct()).filter(bought).label("purchase_days"),
        epoch_days(func.min(c.date).filter(bought)).label("first_purchase"),
        epoch_days(func.max(c.date).filter(bought)).label("last_purchase"),
        _fsum(c.amount, bought).label("purchase_amount"),
        _fsum(c.amount, c.date > bindparam("since_90d")).label("revenue_90"),
        _fsum(c.amount, c.date > bindparam("since_180d")).label("revenue_180"),
    ]
    if not money:
        return columns
    year = c.date >= bindparam("since_12m")
    unpaid = and_(bought, c.paid_date.is_(None), c.invoice_due < bindparam("today"))
    lost = and_(bought, c.paid_date.is_(None), c.invoice_due < bindparam("write_off_before"))
    return [
        *columns,
        _fsum(c.amount, year).label("revenue_12m"),
        _fsum(c.amount, c.date >= bindparam("since_6m")).label("revenue_6m"),
        _fsum(c.margin, year).label("margin_12m"),
        _fsum(c.amount, and_(year, c.margin.is_(None))).label("unknown_margin_12m"),
        _fsum(-c.amount, and_(year, c.amount < 0)).label("refunds_12m"),
        _count(and_(year, c.amount < 0)).label("refund_count_12m"),
        _count(and_(year, bought)).label("purchases_12m"),
        _count(bought).label("purchases"),
        _count(and_(bought, c.discount == True)).label("discounted"),  # noqa: E712
        _count(unpaid).label("unpaid_count"),
        _fsum(c.amount, unpaid).label("unpaid_amount"),
        epoch_days(func.min(c.invoice_due).filter(unpaid)).label("oldest_unpaid_due"),
        _count(lost).label("written_off_count"),
        _fsum(c.amount, lost).label("written_off_amount"),
    ]


def _params(today: date, now: datetime, write_off_days: int) -> dict[str, Any]:
    """Values of the bind parameters the prepared statements below use."""
    return {
        "today": today,
        "now": now,
        "year_ago": now - timedelta(days=365),
        "since_90d": today - timedelta(days=90),
        "since_180d": today - timedelta(days=180),
        "since_12m": months_back(today, 12),
        "since_6m": months_back(today, 6),
        "write_off_before": today - timedelta(days=write_off_days),
    }


def _gaps_query() -> Select[Any]:
    """Each purchase's distance in days from the client's previous purchase (NULL for the first).

    Same-day purchases give 0 and are left out when summing, so gaps are between purchase days.
    """
    c = SALE.c
    day = epoch_days(c.date)
    return select(
        c.client_id.label("client_id"),
        (day - func.lag(day).over(partition_by=c.client_id, order_by=c.date)).label("gap"),
    ).where(c.amount > 0)


def _complaint_columns() -> list[Any]:
    c = COMPLAINT.c
    now = bindparam("now")
    year = c.created_at > bindparam("year_ago")
    is_open = c.status.in_(OPEN)
    rated = and_(year, c.satisfaction.is_not(None))
    by_severity = [
        _count(and_(year, c.severity == s)).label(f"complaints_{s.value}") for s in Severity
    ]
    return [
        c.client_id,
        _count(year).label("complaints_12m"),
        *by_severity,
        _count(is_open).label("open_complaints"),
        _count(and_(is_open, c.due_at < now)).label("overdue_complaints"),
        epoch_days(func.min(c.due_at).filter(is_open)).label("next_complaint_due"),
        _fsum(c.satisfaction, rated).label("satisfaction_sum"),
        _count(rated).label("satisfaction_n"),
    ]


def _interaction_columns() -> list[Any]:
    c = INTERACTION.c
    overdue = and_(
        c.next_step_due.is_not(None),
        c.next_step_due < bindparam("today"),
        c.next_step_done_at.is_(None),
    )
    return [
        c.client_id,
        epoch_days(func.max(c.occurred_at)).label("last_contact"),
        _count(overdue).label("overdue_steps"),
    ]


# Columns that arrive in kopecks and are kept in roubles.
_KOPECKS = {
    "purchase_amount",
    "revenue_90",
    "revenue_180",
    "revenue_12m",
    "revenue_6m",
    "margin_12m",
    "unknown_margin_12m",
    "refunds_12m",
    "unpaid_amount",
    "written_off_amount",
}


class _Filler:
    """Scatters aggregate rows (client_id first) into the table's arrays by client id."""

    def __init__(self, table: FeatureTable) -> None:
        self.table = table
        self.ids = table.client_id

    def fill(self, names: list[str], rows: list[Any]) -> None:
        if not rows or not len(self.ids):
            return
        # One C-level conversion of the whole result; NULL becomes NaN.
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(names) + 1)
        keys = matrix[:, 0].astype(np.int64)
        pos = np.clip(np.searchsorted(self.ids, keys), 0, len(self.ids) - 1)
        known = self.ids[pos] == keys
        pos = pos[known]
        for index, name in enumerate(names, start=1):
            target = getattr(self.table, name)
            values = matrix[known, index]
            if name in _KOPECKS:
                values = np.nan_to_num(values) / 100.0
            if target.dtype.kind == "i":
                target[pos] = np.nan_to_num(values).astype(np.int64)
            else:
                target[pos] = values


async def _fetch(
    conn: AsyncConnection, stmt: Any, params: dict[str, Any] | None = None
) -> list[Any]:
    """Plain driver rows: at 100k rows, skipping Row objects and result processing is
    measurable. Every column read this way is a number or a string, which needs neither."""
    result = await conn.execute(stmt, params or {})
    cursor = getattr(result, "cursor", None)
    if cursor is None:
        return list(result.all())
    rows = list(cursor.fetchall())
    result.close()
    return rows


@dataclass(frozen=True, eq=False)
class _Query:
    """One aggregate, prepared twice: over the whole base, and for a list of client ids."""

    names: list[str]  # result columns after the client id
    column: Any  # the client id it is grouped by
    everyone: Select[Any]
    some: Select[Any]  # with an expanding IN (:ids)

    @classmethod
    def of(cls, stmt: Select[Any], column: Any, names: list[str]) -> _Query:
        some = stmt.where(column.in_(bindparam("ids", expanding=True)))
        return cls(names, column, stmt, some)

    async def rows(
        self, conn: AsyncConnection, params: dict[str, Any], ids: Sequence[int] | None
    ) -> list[Any]:
        if ids is None:
            return await _fetch(conn, self.everyone, params)
        out: list[Any] = []
        for part in _chunks(ids):
            out.extend(await _fetch(conn, self.some, {**params, "ids": list(part)}))
        return out


@dataclass(frozen=True)
class _Queries:
    clients: _Query
    referrals: _Query
    sales: _Query
    complaints: _Query
    interactions: _Query

    def all(self) -> tuple[_Query, ...]:
        return (self.clients, self.referrals, self.sales, self.complaints, self.interactions)


@cache
def _queries(money: bool) -> _Queries:
    """The feature statements, built once: for one client (the card, /recommend) building them
    cost more than running them."""
    c = CLIENT.c
    # Enum columns read as plain strings: validating 100k values each is measurable.
    clients = select(
        c.id,
        epoch_days(c.created_at),
        *(type_coerce(col, String) for col in (c.status, c.client_type, c.strategy)),
        *(type_coerce(col, String) for col in (c.strategy_override, c.risk_level)),
    ).order_by(c.id)
    referrals = (
        select(c.referred_by_id, func.count())
        .where(c.referred_by_id.is_not(None))
        .group_by(c.referred_by_id)
    )
    sales = _sales_columns(money=money)
    complaints = _complaint_columns()
    interactions = _interaction_columns()

    def names(columns: list[Any]) -> list[str]:
        return [column.name for column in columns[1:]]

    return _Queries(
        clients=_Query.of(clients, c.id, []),
        referrals=_Query.of(referrals, c.referred_by_id, ["referrals"]),
        sales=_Query.of(select(*sales).group_by(SALE.c.client_id), SALE.c.client_id, names(sales)),
        complaints=_Query.of(
            select(*complaints).group_by(COMPLAINT.c.client_id),
            COMPLAINT.c.client_id,
            names(complaints),
        ),
        interactions=_Query.of(
            select(*interactions).group_by(INTERACTION.c.client_id),
            INTERACTION.c.client_id,
            names(interactions),
        ),
    )


async def load_features(
    conn: AsyncConnection,
    *,
    today: date,
    now: datetime,
    client_ids: Sequence[int] | None = None,
    classification: bool = True,
    gaps: bool | None = None,
    write_off_days: int = 30,
) -> FeatureTable:
    """The feature table of every client (or of `client_ids`), sorted by client id.

    `classification=False` reads only what the risk score needs (a lighter pass over sales);
    `gaps=False` skips the gaps between purchases (the window query), which only the
    `regular` rule needs.
    """
    gaps = classification if gaps is None else gaps
    ids = sorted(set(client_ids)) if client_ids is not None else None
    queries = _queries(classification)
    params = _params(today, now, write_off_days)
    if ids is not None and len(ids) == 1:
        # One client (a card, /recommend, a change): one statement instead of five round trips.
        single = await _one_client(conn, queries, params, ids[0])

        async def rows(query: _Query) -> list[Any]:
            return single[query]
    else:

        async def rows(query: _Query) -> list[Any]:
            return await query.rows(conn, params, ids)

    client_rows = await rows(queries.clients)
    table = FeatureTable.build(today, now, [r[0] for r in client_rows])
    if not client_rows:
        return table
    _, created, status, ctype, strategy, override, level = zip(*client_rows, strict=True)
    table.created = np.asarray(created, dtype=np.float64)
    table.archived = np.asarray([s == "archived" for s in status], dtype=bool)
    table.stored_type = _objects(ctype)
    table.stored_strategy = _objects(strategy)
    table.override = _objects(override)
    table.stored_level = _objects(level)
    fill = _Filler(table)
    for query in (queries.referrals, queries.sales):
        fill.fill(query.names, await rows(query))
    if gaps:
        ordered = _gaps_query()
        if ids is None:
            await _gap_rows(conn, fill, ordered.subquery())
        else:
            for part in _chunks(ids):
                await _gap_rows(conn, fill, ordered.where(SALE.c.client_id.in_(part)).subquery())
    for query in (queries.complaints, queries.interactions):
        fill.fill(query.names, await rows(query))
    return table


@cache
def _one_statement(queries: _Queries) -> Select[Any]:
    """The aggregates of `queries` for the client :cid side by side in one row."""
    subqueries = [
        query.everyone.where(query.column == bindparam("cid")).subquery() for query in queries.all()
    ]
    stmt = select(*(c for sub in subqueries for c in sub.c)).select_from(subqueries[0])
    for sub in subqueries[1:]:
        stmt = stmt.outerjoin(sub, true())
    return stmt


async def _one_client(
    conn: AsyncConnection, queries: _Queries, params: dict[str, Any], client_id: int
) -> dict[_Query, list[Any]]:
    """Rows per aggregate, as `_Query.rows` would return them, read in one statement."""
    found = await _fetch(conn, _one_statement(queries), {**params, "cid": client_id})
    out: dict[_Query, list[Any]] = {}
    start = 0
    for query in queries.all():
        width = len(query.everyone.selected_columns)
        part = tuple(found[0][start : start + width]) if found else ()
        # An aggregate with no rows for the client comes back as NULLs from the outer join.
        out[query] = [part] if part and part[0] is not None else []
        start += width
    return out


async def _gap_rows(conn: AsyncConnection, fill: _Filler, gaps: Any) -> None:
    stmt = (
        select(
            gaps.c.client_id,
            func.count(gaps.c.gap),
            cast(func.sum(gaps.c.gap), Float),
            cast(func.sum(gaps.c.gap * gaps.c.gap), Float),
        )
        .where(gaps.c.gap > 0)
        .group_by(gaps.c.client_id)
    )
    fill.fill(["gap_count", "gap_sum", "gap_sqsum"], await _fetch(conn, stmt))


def _objects(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out
