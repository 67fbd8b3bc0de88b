"""The application object and what every handler reaches through it."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram.ext import Application, CallbackContext, ExtBot, SimpleUpdateProcessor

from bot.config import Settings
from bot.domain import Role
from bot.i18n import Translator, pick_language
from db.models import Staff
from db.repositories import staff as staff_repo
from db.repositories.scope import Scope
from db.session import Database


@dataclass(frozen=True)
class StaffInfo:
    """Who is behind an update: a read-only snapshot of their staff row."""

    id: int
    telegram_id: int
    name: str
    role: Role
    team: str | None
    language: str | None
    timezone: str | None

    @classmethod
    def of(cls, staff: Staff) -> StaffInfo:
        assert staff.id is not None
        return cls(
            id=staff.id,
            telegram_id=staff.telegram_id,
            name=staff.name,
            role=staff.role,
            team=staff.team,
            language=staff.language,
            timezone=staff.timezone,
        )


class StaffDirectory:
    """Who may use the bot, remembered briefly: the access gate runs for every update.

    Changes made through the bot take effect at once (the handler calls `forget`); changes made
    elsewhere (the CLI, another process) within `ttl` seconds.
    """

    def __init__(self, ttl: float = 10.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[int, tuple[float, StaffInfo | None]] = {}

    async def lookup(
        self, session: Callable[[], AsyncSession], telegram_id: int
    ) -> StaffInfo | None:
        """`session` is asked for only on a miss: most updates then open no session at all."""
        now = monotonic()
        entry = self._entries.get(telegram_id)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        staff = await staff_repo.get_active(session(), telegram_id=telegram_id)
        info = StaffInfo.of(staff) if staff is not None else None
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # strangers must not be able to grow this without bound
        self._entries[telegram_id] = (now, info)
        return info

    def forget(self, telegram_id: int | None = None) -> None:
        if telegram_id is None:
            self._entries.clear()
        else:
            self._entries.pop(telegram_id, None)


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Long-lived things the handlers need; `clock` is replaceable so tests can travel in time."""

    settings: Settings
    db: Database
    clock: Callable[[], datetime] = system_clock
    staff: StaffDirectory = field(default_factory=StaffDirectory)
    extras: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    def today(self, tz: str | None = None) -> date:
        return self.now().astimezone(ZoneInfo(tz or self.settings.timezone)).date()


class CRMApplication(Application):  # type: ignore[type-arg]
    """PTB's Application plus our services (set once, right after building)."""

    services: Services


class UnitOfWork:
    """One database session per update: opened on first use, committed once at the end.

    A handler that must tell the user "saved" commits first (`context.commit()`); an error
    anywhere in the update marks the unit failed and everything not yet committed is rolled back.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.failed = False
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self.db.sessions()
        return self._session

    async def finish(self) -> None:
        if self._session is None:
            return
        try:
            if self.failed:
                await self._session.rollback()
            else:
                await self._session.commit()
        finally:
            await self._session.close()
            self._session = None


current_unit: ContextVar[UnitOfWork | None] = ContextVar("current_unit", default=None)


class UnitOfWorkProcessor(SimpleUpdateProcessor):
    """Wraps the processing of every update in a unit of work."""

    def __init__(self, db: Database, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self.db = db

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        unit = UnitOfWork(self.db)
        token = current_unit.set(unit)
        try:
            await coroutine
        finally:
            current_unit.reset(token)
            await unit.finish()


class CRMContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context: the staff member behind the update, their language and session."""

    staff: StaffInfo | None = None

    @property
    def services(self) -> Services:
        return self.application.services  # type: ignore[attr-defined,no-any-return]

    @property
    def unit(self) -> UnitOfWork:
        unit = current_unit.get()
        if unit is None:
            raise RuntimeError("no unit of work: called outside update processing")
        return unit

    @property
    def session(self) -> AsyncSession:
        return self.unit.session

    async def commit(self) -> None:
        await self.unit.session.commit()

    @property
    def me(self) -> StaffInfo:
        if self.staff is None:
            raise RuntimeError("access gate did not run")
        return self.staff

    @property
    def scope(self) -> Scope:
        return Scope.of(self.me)

    @property
    def lang(self) -> str:
        user = getattr(self, "_tg_language", None)
        own = self.staff.language if self.staff else None
        return pick_language(own, user, self.services.settings.language)

    @property
    def t(self) -> Translator:
        return Translator(self.lang)

    @property
    def tz(self) -> str:
        return (self.staff.timezone if self.staff else None) or self.services.settings.timezone
