"""Benchmark the clients import against the floor of a bare executemany INSERT, on SQLite.

Run from the repository root: ``python -m bench.bench_import [--clients 100000]``. Prints
figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bot.domain import Role
from bot.imports import ImportReport, import_clients
from db.migrate import upgrade
from db.models import Client, Staff
from db.session import Database
from db.types import utcnow

CLIENT = Client.__table__
STAFF = Staff.__table__
STAFF_TELEGRAM_IDS = (111_000_001, 111_000_002, 111_000_003, 111_000_004, 111_000_005)
HEADER = [
    "Внешний ID",
    "Наименование",
    "Компания",
    "Телефон",
    "E-mail",
    "ИНН",
    "Ответственный",
    "Теги",
    "Рекомендовал",
]
FIRST = ["Иван", "Пётр", "Анна", "Мария", "Сергей", "Ольга", "Дмитрий", "Елена", "Алексей"]
LAST = ["Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Волков", "Соколов"]
LATIN = ["ivan", "petr", "anna", "maria", "sergey", "olga", "dmitry", "elena", "alexey"]
COMPANIES = ["Ромашка", "Вектор", "Альфа-Трейд", "СтройМир", "Техносфера", "Северный ветер"]
FORMS = ["ООО", "АО", "ИП", "ЗАО"]
TAGS = ["vip", "опт", "розница", "москва", "спб", "b2b", "новый"]
DOMAINS = ["mail.ru", "yandex.ru", "gmail.com", "bk.ru", "company.ru"]
PHONE_FORMATS = [
    "+7 {a} {b}-{c}-{d}",
    "8 ({a}) {b}-{c}-{d}",
    "8{a}{b}{c}{d}",
    "+7({a}){b}{c}{d}",
    "7 {a} {b} {c} {d}",
]


def generate(path: Path, count: int, rng: random.Random) -> None:
    """A clients CSV as a Russian Excel saves it: UTF-8 with BOM, ";"-separated."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for n in range(1, count + 1):
            first = rng.randrange(len(FIRST))
            name = f"{LAST[rng.randrange(len(LAST))]} {FIRST[first]}"
            company = ""
            tax_id = ""
            if rng.random() < 0.6:
                company = f"{rng.choice(FORMS)} «{rng.choice(COMPANIES)}»"
                tax_id = f"{rng.randrange(10**9, 10**10)}"
            phone = ""
            if rng.random() < 0.9:
                digits = f"9{n:09d}"
                phone = rng.choice(PHONE_FORMATS).format(
                    a=digits[:3], b=digits[3:6], c=digits[6:8], d=digits[8:]
                )
            email = ""
            if rng.random() < 0.7:
                email = f"{LATIN[first]}.{n}@{rng.choice(DOMAINS)}"
                email = email.upper() if rng.random() < 0.05 else email
            owner = str(rng.choice(STAFF_TELEGRAM_IDS)) if rng.random() < 0.9 else ""
            tags = rng.choice(["; ", "|"]).join(rng.sample(TAGS, rng.randrange(0, 3)))
            referrer = ""
            if rng.random() < 0.05:
                # Some point forward, to rows later in the file.
                referrer = f"C{rng.randrange(1, count + 1):07d}"
            writer.writerow(
                [f"C{n:07d}", name, company, phone, email, tax_id, owner, tags, referrer]
            )


def migrated(directory: Path, name: str) -> Database:
    path = directory / name
    upgrade(f"sqlite+aiosqlite:///{path}")
    return Database(f"sqlite+aiosqlite:///{path}")


async def add_staff(database: Database) -> None:
    now = utcnow()
    rows = [
        {
            "telegram_id": telegram_id,
            "name": f"Менеджер {n}",
            "role": Role.MANAGER,
            "alert_days": "1,2,3,4,5",
            "alerts_enabled": True,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        for n, telegram_id in enumerate(STAFF_TELEGRAM_IDS, start=1)
    ]
    async with database.engine.begin() as conn:
        await conn.execute(insert(STAFF), rows)


async def timed_import(database: Database, path: Path) -> tuple[float, ImportReport]:
    start = time.perf_counter()
    report = await import_clients(database, path, actor="bench")
    return time.perf_counter() - start, report


async def normalised_rows(database: Database) -> list[dict[str, Any]]:
    """The imported rows as the importer wrote them, minus ids: the floor's input."""
    columns = [c for c in CLIENT.c if c.name != "id"]
    async with database.engine.connect() as conn:
        result = await conn.execute(select(*columns).order_by(CLIENT.c.id))
        rows = [dict(row._mapping) for row in result]
    for row in rows:
        row["referred_by_id"] = None  # the floor has no second pass for referrals
    return rows


async def timed_floor(database: Database, rows: list[dict[str, Any]]) -> float:
    """A bare chunked executemany INSERT of ready rows, in one transaction."""
    start = time.perf_counter()
    async with database.engine.begin() as conn:
        for offset in range(0, len(rows), 5000):
            await conn.execute(insert(CLIENT), rows[offset : offset + 5000])
    return time.perf_counter() - start


def counts(report: ImportReport) -> str:
    return (
        f"{report.created:,} created / {report.updated:,} updated / "
        f"{report.unchanged:,} unchanged / {report.skipped:,} skipped"
    )


async def run(csv_path: Path, size: int, first: Database, floor_db: Database) -> None:
    await add_staff(first)
    await add_staff(floor_db)
    import_time, report = await timed_import(first, csv_path)
    rows = await normalised_rows(first)
    floor_time = await timed_floor(floor_db, rows)
    reimport_time, again = await timed_import(first, csv_path)
    await first.dispose()
    await floor_db.dispose()

    table = [
        ("cpu_count", f"{os.cpu_count()}"),
        ("rows in file", f"{report.rows:,} ({size / 1e6:.1f} MB)"),
        ("import, end to end", f"{import_time:.2f} s ({report.rows / import_time:,.0f} rows/s)"),
        ("  result", counts(report)),
        ("floor: executemany INSERT", f"{floor_time:.2f} s ({len(rows):,} rows)"),
        ("import / floor", f"{import_time / floor_time:.1f}x"),
        ("re-import of the same file", f"{reimport_time:.2f} s"),
        ("  result", counts(again)),
    ]
    width = max(len(label) for label, _ in table)
    print("Clients import benchmark (SQLite)")
    for label, value in table:
        print(f"  {label:<{width}}  {value}")


def main() -> None:
    """Generate the file, migrate two fresh databases, time the import, the floor, a re-import."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        directory = Path(tmp)
        csv_path = directory / "clients.csv"
        generate(csv_path, args.clients, random.Random(args.seed))
        # Alembic runs its own event loop: migrate before ours starts.
        first = migrated(directory, "import.db")
        floor_db = migrated(directory, "floor.db")
        asyncio.run(run(csv_path, csv_path.stat().st_size, first, floor_db))


if __name__ == "__main__":
    main()
