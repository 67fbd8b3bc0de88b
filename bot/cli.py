"""`crmbot`: the command line for running the bot and administering its data."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cli_alerts import alerts_app
from bot.config import ConfigError, Settings, get_settings
from bot.domain import ClientType, Role, Strategy
from db.models import Staff
from db.session import Database

T = TypeVar("T")

_SEGMENT_KEYS = {
    **{t.value: "type" for t in ClientType},
    **{s.value: "strategy" for s in Strategy},
}

app = typer.Typer(help="CRM Assistant: a Telegram bot for client-relationship staff.")
db_app = typer.Typer(help="Database schema.")
staff_app = typer.Typer(help="Staff access.")
import_app = typer.Typer(help="Imports from CSV or XLSX (Excel, 1C).")
app.add_typer(db_app, name="db")
app.add_typer(staff_app, name="staff")
app.add_typer(import_app, name="import")
app.add_typer(alerts_app, name="alerts")

console = Console()
err = Console(stderr=True)


class CliError(Exception):
    """An error to show as one line, without a traceback."""


def _settings() -> Settings:
    return get_settings()


def _run(make: Callable[[Database], Awaitable[T]], *, migrate: bool = True) -> T:
    """Open the configured database (migrated), run one coroutine with it, close it."""
    settings = _settings()
    if migrate:
        from db.migrate import upgrade

        upgrade(settings.database_url)

    async def _main() -> T:
        database = Database(settings.database_url)
        try:
            return await make(database)
        finally:
            await database.dispose()

    return asyncio.run(_main())


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@app.command()
def run() -> None:
    """Run the bot: apply pending migrations, then poll (or serve the webhook)."""
    from bot.app import run_bot

    settings = _settings()
    if not settings.bot_token:
        raise CliError("TELEGRAM_BOT_TOKEN: expected a token from @BotFather; it is not set")
    run_bot(settings)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to DATABASE_URL."""
    from db.migrate import upgrade

    upgrade(_settings().database_url)
    console.print("Database schema is up to date.")


@staff_app.command("add")
def staff_add(
    telegram_id: int,
    role: Annotated[Role, typer.Option(help="manager, supervisor or admin")],
    name: Annotated[str, typer.Option(help="Full name as colleagues know it")],
    team: Annotated[str | None, typer.Option(help="Team name; supervisors see their team")] = None,
) -> None:
    """Add a staff member (or re-activate and update one)."""
    from db.models import StaffCreate
    from db.repositories import staff as staff_repo

    async def _add(database: Database) -> str:
        async with database.session() as session:
            staff = await staff_repo.add(
                session,
                data=StaffCreate(telegram_id=telegram_id, role=role, name=name, team=team),
                actor="cli",
            )
            return f"{staff.name} ({staff.role.value}) can now use the bot."

    console.print(_run(_add))


@staff_app.command("list")
def staff_list() -> None:
    """List staff members."""
    from db.repositories import staff as staff_repo

    async def _list(database: Database) -> Table:
        table = Table("Telegram id", "Name", "Role", "Team", "Active")
        async with database.session() as session:
            for s in await staff_repo.list_all(session):
                table.add_row(
                    str(s.telegram_id),
                    s.name,
                    s.role.value,
                    s.team or "",
                    "yes" if s.active else "no",
                )
        return table

    console.print(_run(_list))


@staff_app.command("disable")
def staff_disable(telegram_id: int) -> None:
    """Take away a staff member's access (their clients and history stay)."""
    from db.repositories import staff as staff_repo

    async def _disable(database: Database) -> str:
        async with database.session() as session:
            try:
                staff = await staff_repo.disable(session, telegram_id=telegram_id, actor="cli")
            except staff_repo.StaffError as error:
                raise CliError(str(error)) from None
            return f"{staff.name} can no longer use the bot."

    console.print(_run(_disable))


def _strategy_engine() -> None:
    """Configure the strategy engine, which recomputes clients whose data an import changed."""
    from bot.services import classification
    from bot.strategies.config import StrategyConfigError

    settings = _settings()
    try:
        classification.configure(config_path=settings.strategy_config, timezone=settings.timezone)
    except StrategyConfigError as error:
        raise CliError(f"CRM_STRATEGY_CONFIG: {error}") from None


def _import(kind: str, path: Path) -> None:
    import bot.imports as imports

    _strategy_engine()
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    func = {
        "clients": imports.import_clients,
        "sales": imports.import_sales,
        "interactions": imports.import_interactions,
    }[kind]

    async def _do(database: Database) -> list[str]:
        with _progress(f"Importing {kind}") as progress:
            try:
                report = await func(database, path, actor="cli", progress=progress)
            except imports.ImportFileError as error:
                raise CliError(str(error)) from None
        return report.summary_lines("en")

    for line in _run(_do):
        console.print(line, markup=False, highlight=False)


@import_app.command("clients")
def import_clients(file: Path) -> None:
    """Import clients (external_id, name, company, phone, email, tax_id, owner, tags, referrer)."""
    _import("clients", file)


@import_app.command("sales")
def import_sales(file: Path) -> None:
    """Import sales: client,date,amount,margin,discount,due_date,paid_date."""
    _import("sales", file)


@import_app.command("interactions")
def import_interactions(file: Path) -> None:
    """Import interactions: client,date,kind,text,staff_telegram_id."""
    _import("interactions", file)


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise CliError(f"--today: expected YYYY-MM-DD; got {value!r}") from None


@app.command("seed-demo")
def seed_demo(
    clients: Annotated[int, typer.Option(min=50, max=1_000_000, help="How many clients")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data")] = 1,
    today: Annotated[str | None, typer.Option(help="Pretend today is YYYY-MM-DD")] = None,
) -> None:
    """Fill an empty database with a realistic synthetic data set."""
    from bot.seed import SeedError
    from bot.seed import seed_demo as do_seed

    day = _parse_day(today)

    async def _seed(database: Database) -> str:
        from bot.services import classification

        _strategy_engine()
        try:
            report = await do_seed(database, clients=clients, seed=seed, today=day)
        except SeedError as error:
            raise CliError(str(error)) from None
        run = await classification.classify_database(
            database, source="seed", now=classification.noon(day) if day else None
        )
        return (
            f"Seeded {report.staff} staff, {report.clients} clients, {report.sales} sales, "
            f"{report.interactions} interactions, {report.complaints} complaints "
            f"in {report.seconds:.1f} s; classified them in {run.seconds:.1f} s."
        )

    console.print(_run(_seed))


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="xlsx or csv")] = "xlsx",
    out: Annotated[Path | None, typer.Option(help="Output file (default: in this folder)")] = None,
    segment: Annotated[
        str | None, typer.Option(help="A type or strategy key, team:NAME or manager:TELEGRAM_ID")
    ] = None,
    as_staff: Annotated[
        int | None, typer.Option("--as", help="Use this staff member's scope (Telegram id)")
    ] = None,
    lang: Annotated[str, typer.Option(help="Column headers: ru or en")] = "ru",
) -> None:
    """Export clients with type, strategy, risk, owner and key figures (as /export does)."""
    from bot.i18n import LANGUAGES, Translator
    from bot.services import export as service
    from bot.services.summary import year_before
    from db.repositories import staff as staff_repo
    from db.repositories.scope import Scope
    from db.repositories.summary import Narrow

    if fmt not in service.FORMATS:
        raise CliError(f"--format: expected xlsx or csv; got {fmt!r}")
    if lang not in LANGUAGES:
        raise CliError(f"--lang: expected ru or en; got {lang!r}")
    kind, _, key = (segment or "").partition(":")
    settings = _settings()

    async def _person(session: AsyncSession, telegram_id: str) -> Staff:
        found = None
        if telegram_id.isdigit():
            found = await staff_repo.get_by_telegram_id(session, telegram_id=int(telegram_id))
        if found is None:
            raise CliError(f"no staff member with Telegram id {telegram_id}")
        return found

    async def _export(database: Database) -> str:
        async with database.session() as session:
            scope = Scope(staff_id=0, role=Role.ADMIN)
            if as_staff is not None:
                scope = Scope.of(await _person(session, str(as_staff)))
            narrow = None
            if segment and not key and kind in _SEGMENT_KEYS:
                narrow = Narrow(_SEGMENT_KEYS[kind], kind)
            elif kind == "team" and key:
                narrow = Narrow("team", key)
            elif kind == "manager" and key:
                narrow = Narrow("manager", str((await _person(session, key)).id))
            elif segment:
                raise CliError(
                    "--segment: expected a type or strategy key, team:NAME or "
                    f"manager:TELEGRAM_ID; got {segment!r}"
                )
            today = datetime.now(settings.zone).date()
            result = await service.export(
                session,
                scope=scope,
                narrow=narrow,
                today=today,
                since=year_before(today),
                fmt=fmt,
                t=Translator(lang),
            )
        target = out or Path(result.filename)
        target.write_bytes(result.data)
        return f"Exported {result.rows} clients to {target}."

    console.print(_run(_export), markup=False, highlight=False)


@app.command()
def classify() -> None:
    """Recompute every client's type, strategy and risk now (as the nightly job does)."""
    from bot.services import classification

    _strategy_engine()

    async def _classify(database: Database) -> classification.RunReport:
        return await classification.classify_database(database, source="cli")

    report = _run(_classify)
    for title, counts in (
        ("Client types", report.types),
        ("Strategies", report.strategies),
        ("Risk levels", report.levels),
    ):
        table = Table(title, "clients", "share")
        for key, count in counts.most_common():
            table.add_row(key, str(count), f"{count / max(report.clients, 1):.1%}")
        console.print(table)
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items())
    console.print(
        f"Classified {report.clients} clients in {report.seconds:.1f} s ({timings}); "
        f"{report.changes} type or strategy changes, {report.risk_changes} risk level changes."
    )


@app.command()
def demo(
    database: Annotated[Path, typer.Option(help="Demo database file")] = Path("crm-demo.db"),
    clients: Annotated[int, typer.Option(min=50, max=200_000, help="Clients to seed")] = 500,
) -> None:
    """An offline demo: the real bot on a loopback Bot API, in a terminal chat."""
    from bot.demo import run_demo

    asyncio.run(run_demo(database, clients=clients))


def main() -> None:
    """Entry point: configuration and user errors end as one line on stderr, no traceback."""
    try:
        app()
    except (ConfigError, CliError) as error:
        err.print(str(error), markup=False, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
