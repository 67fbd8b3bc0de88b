"""Writing and reading the audit log."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import AuditLog


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(model: SQLModel, fields: list[str] | None = None) -> dict[str, Any]:
    """A JSON-safe picture of a row (or of some of its fields) for before/after."""
    data = model.model_dump(include=set(fields) if fields else None)
    data.pop("created_at", None)
    data.pop("updated_at", None)
    return {k: _jsonable(v) for k, v in data.items()}


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    staff_id: int | None = None,
    client_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit row to the session; it commits with the change it describes."""
    row = AuditLog(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        staff_id=staff_id,
        client_id=client_id,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
    )
    session.add(row)
    return row


async def for_client(
    session: AsyncSession, *, client_id: int, limit: int = 50, offset: int = 0
) -> list[AuditLog]:
    """The client's audit trail, newest first."""
    stmt = (
        select(AuditLog)
        .where(AuditLog.client_id == client_id)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())
