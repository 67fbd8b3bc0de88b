"""`crmbot alerts …`: send the digest or the weekly summary by hand and see how deliveries went."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.config import Settings, get_settings
from db.session import Database

T = TypeVar("T")

alerts_app = typer.Typer(help="The morning retention digest and the supervisors' weekly summary.")
console = Console()
err = Console(stderr=True)
DateOption = Annotated[str | None, typer.Option("--date", help="The day, YYYY-MM-DD")]
WeeklyOption = Annotated[
    bool,
    typer.Option(
        "--weekly", help="The supervisors' weekly summary (of the day's week), not the digest"
    ),
]
STATUSES = ("sent", "skipped", "pending", "failed", "blocked")


def _fail(message: str) -> typer.Exit:
    err.print(message, markup=False, highlight=False)
    return typer.Exit(2)


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise _fail(f"--date: expected YYYY-MM-DD; got {value!r}") from None


def _run(settings: Settings, make: Callable[[Database], Awaitable[T]]) -> T:
    from db.migrate import upgrade

    upgrade(settings.database_url)

    async def _main() -> T:
        database = Database(settings.database_url)
        try:
            return await make(database)
        finally:
            await database.dispose()

    return asyncio.run(_main())


@alerts_app.command("send-now")
def send_now(when: DateOption = None, weekly: WeeklyOption = False) -> None:
    """Deliver the digests (or weekly summaries) now, whatever the time: once each (the ledger)."""
    from bot.app import build_application
    from bot.runtime import system_clock
    from bot.services import delivery
    from bot.services import weekly as weekly_service

    settings = get_settings()
    if not settings.bot_token:
        raise _fail("TELEGRAM_BOT_TOKEN: expected a token from @BotFather; it is not set")
    day = _day(when)
    plan = weekly_service.PLAN if weekly else delivery.DIGEST

    async def _send(database: Database) -> delivery.RunReport:
        # The same bot as `crmbot run`: AIORateLimiter, the same delivery code.
        app = build_application(settings, database)
        async with app.bot:
            return await delivery.run(
                app.bot, database, settings, clock=system_clock, plan=plan, manual=True, day=day
            )

    report = _run(settings, _send)
    o = delivery.Outcome
    console.print(
        f"Due {report.due}: sent {report[o.SENT]}, nothing new {report[o.SKIPPED]}, "
        f"blocked {report[o.BLOCKED]}, failed {report[o.FAILED]}, "
        f"already done {report[o.TAKEN]} ({report.seconds:.1f} s).",
        markup=False,
        highlight=False,
    )
    for staff_id, error in report.failures:
        err.print(f"staff #{staff_id}: {error}", markup=False, highlight=False)
    if report.failures:
        raise typer.Exit(1)


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {counts.get(name, 0)}" for name in STATUSES)


@alerts_app.command("status")
def status(when: DateOption = None) -> None:
    """How a day's digests and its week's summaries went: counts, then every row needing a look."""
    from bot.services.weekly import monday_of
    from db.models.alerts import DeliveryKind
    from db.repositories import alerts as repo

    settings = get_settings()
    day = _day(when) or datetime.now(settings.zone).date()
    monday = monday_of(day)
    kinds = {DeliveryKind.DIGEST: day, DeliveryKind.WEEKLY: monday}

    async def _status(
        database: Database,
    ) -> tuple[dict[DeliveryKind, dict[str, int]], Table, list[str]]:
        table = Table(
            "Kind", "Name", "Telegram id", "Status", "Claims", "Sends", "Claimed at", "Error"
        )
        counts: dict[DeliveryKind, dict[str, int]] = {}
        async with database.session() as session:
            for kind, of in kinds.items():
                counts[kind] = await repo.status_counts(session, day=of, kind=kind)
                for row, person in await repo.problems(session, day=of, kind=kind):
                    table.add_row(
                        kind.value,
                        person.name,
                        str(person.telegram_id),
                        row.status.value,
                        str(row.claims),
                        str(row.attempts),
                        f"{row.claimed_at.astimezone(settings.zone):%H:%M:%S}",
                        (row.error or "")[:80],
                    )
            blocked = [
                f"{p.name} ({p.telegram_id}) since {p.blocked_at:%Y-%m-%d}"
                for p in await repo.blocked_staff(session)
                if p.blocked_at is not None
            ]
        return counts, table, blocked

    counts, table, blocked = _run(settings, _status)
    line = _counts_line(counts[DeliveryKind.DIGEST])
    console.print(f"Digests of {day:%Y-%m-%d}: {line}.", markup=False, highlight=False)
    summaries = counts[DeliveryKind.WEEKLY]
    if summaries or day == monday:
        line = _counts_line(summaries)
        console.print(
            f"Weekly summaries of the week of {monday:%Y-%m-%d}: {line}.",
            markup=False,
            highlight=False,
        )
    if table.row_count:
        console.print(table)
    if blocked:
        console.print(f"Blocked the bot ({len(blocked)}): " + "; ".join(blocked), markup=False)
