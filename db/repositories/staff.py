"""Staff: lookups and changes (every change audited)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Role
from db.models import Staff, StaffCreate
from db.repositories import audit


class StaffError(ValueError):
    """A staff change that cannot be made; the message is for the user."""


async def get_by_telegram_id(session: AsyncSession, *, telegram_id: int) -> Staff | None:
    return (await session.exec(select(Staff).where(Staff.telegram_id == telegram_id))).first()


async def get_active(session: AsyncSession, *, telegram_id: int) -> Staff | None:
    """The active staff member with this Telegram id, or None for anyone else."""
    stmt = select(Staff).where(Staff.telegram_id == telegram_id, Staff.active == True)  # noqa: E712
    return (await session.exec(stmt)).first()


async def list_all(session: AsyncSession, *, include_inactive: bool = True) -> Sequence[Staff]:
    stmt = select(Staff).order_by(Staff.active.desc(), Staff.role, Staff.name)
    if not include_inactive:
        stmt = stmt.where(Staff.active == True)  # noqa: E712
    return (await session.exec(stmt)).all()


async def add(
    session: AsyncSession,
    *,
    data: StaffCreate,
    actor: str,
    actor_staff_id: int | None = None,
) -> Staff:
    """Add a staff member, or re-activate and update one with the same Telegram id."""
    existing = await get_by_telegram_id(session, telegram_id=data.telegram_id)
    if existing is not None:
        before = audit.snapshot(existing)
        for field in ("name", "role", "team"):
            setattr(existing, field, getattr(data, field))
        existing.active = True
        session.add(existing)
        await session.flush()
        old, new = audit.diff(before, audit.snapshot(existing))
        audit.record(
            session,
            actor=actor,
            staff_id=actor_staff_id,
            action="update",
            entity="staff",
            entity_id=existing.id,
            before=old,
            after=new,
        )
        return existing
    staff = Staff.model_validate(data)
    session.add(staff)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        staff_id=actor_staff_id,
        action="create",
        entity="staff",
        entity_id=staff.id,
        after=audit.snapshot(staff),
    )
    return staff


async def update(
    session: AsyncSession,
    *,
    staff: Staff,
    actor: str,
    actor_staff_id: int | None = None,
    **changes: object,
) -> Staff:
    """Change fields of a staff member and audit what actually changed."""
    before = audit.snapshot(staff)
    for field, value in changes.items():
        setattr(staff, field, value)
    session.add(staff)
    await session.flush()
    old, new = audit.diff(before, audit.snapshot(staff))
    if new:
        audit.record(
            session,
            actor=actor,
            staff_id=actor_staff_id,
            action="update",
            entity="staff",
            entity_id=staff.id,
            before=old,
            after=new,
        )
    return staff


async def disable(
    session: AsyncSession, *, telegram_id: int, actor: str, actor_staff_id: int | None = None
) -> Staff:
    staff = await get_by_telegram_id(session, telegram_id=telegram_id)
    if staff is None:
        raise StaffError(f"no staff member with Telegram id {telegram_id}")
    if staff.role == Role.ADMIN and staff.active:
        admins = await session.exec(
            select(Staff).where(Staff.role == Role.ADMIN, Staff.active == True)  # noqa: E712
        )
        if len(admins.all()) <= 1:
            raise StaffError("this is the last active admin; add another admin first")
    return await update(
        session, staff=staff, actor=actor, actor_staff_id=actor_staff_id, active=False
    )
