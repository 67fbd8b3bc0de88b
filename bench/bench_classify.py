"""The nightly classification at 100,000 clients (~1M sales) on SQLite, end to end.

Reads every client's features set-wise, refits BG/NBD and the RFM quintiles, classifies, scores
the risk, writes the results and the history — what the 02:00 job and `crmbot classify` do. The
first run writes a history row for every client; the second is a steady night with few changes.
Also times the single-client recompute that follows a sale, complaint or interaction.

Run: ``python -m bench.bench_classify [--clients 100000]``. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from bench.bench_lookup import timed
from bench.common import percentiles, row, seeded_database
from bot.app import build_application
from bot.config import load_settings
from bot.sandbox import FakeBotApi
from bot.seed import DEMO_ADMIN_TELEGRAM_ID
from bot.services import classification
from db.migrate import upgrade
from db.models import AuditLog
from db.session import Database


def working_copy(clients: int, folder: Path) -> str:
    """A migrated copy of the cached seeded database: the cache itself stays as seeded."""
    url, seeded = seeded_database(clients, classified=False)
    if seeded is not None:
        row("seed-demo (first use of the cache)", f"{seeded:.1f} s")
    source = Path(url.removeprefix("sqlite+aiosqlite:///"))
    target = folder / source.name
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    copy = f"sqlite+aiosqlite:///{target}"
    upgrade(copy)
    return copy


async def seed_day(database: Database) -> date:
    """The `today` the demo data was generated for (the cache may be older than today)."""
    async with database.session() as session:
        stmt = select(AuditLog.after).where(AuditLog.action == "seed_demo").limit(1)
        after = (await session.exec(stmt)).first()  # type: ignore[call-overload]
    data = after[0] if isinstance(after, tuple | list) or hasattr(after, "_mapping") else after
    if isinstance(data, str):
        data = json.loads(data)
    return date.fromisoformat(data["today"])


async def card_times(url: str, ids: list[int]) -> tuple[dict[str, float], dict[str, float]]:
    """Handler time of the card (now with recommendations) and of /recommend, as an admin."""
    async with FakeBotApi(accept_unknown_chats=True) as server:
        settings = load_settings(
            bot_token=server.token, api_base_url=server.base_url, database_url=url
        )
        app = build_application(settings, Database(url), rate_limit=False)
        async with app:
            await timed(app, DEMO_ADMIN_TELEGRAM_ID, [f"/client {i}" for i in ids[:20]])
            cards = await timed(app, DEMO_ADMIN_TELEGRAM_ID, [f"/client {i}" for i in ids])
            recs = await timed(app, DEMO_ADMIN_TELEGRAM_ID, [f"/recommend {i}" for i in ids])
    return percentiles(cards), percentiles(recs)


def shares(counts: Counter[str], total: int) -> str:
    return " · ".join(f"{k} {v / total:.1%}" for k, v in counts.most_common())


async def main(url: str) -> None:
    database = Database(url)
    today = await seed_day(database)
    now: datetime = classification.noon(today)
    classification.configure(clock=lambda: now)

    first = await classification.classify_database(database, source="nightly", now=now)
    second = await classification.classify_database(database, source="nightly", now=now)

    async with database.session() as session:
        conn = await session.connection()
        stmt = "SELECT id FROM client ORDER BY (id * 7919) % 100003 LIMIT 200"  # spread out
        ids = [r[0] for r in (await conn.exec_driver_sql(stmt))]
    single = []
    for client_id in ids:
        async with database.session() as session:
            started = time.perf_counter()
            await classification.recompute(session, client_ids={client_id}, source="event", now=now)
            single.append(time.perf_counter() - started)
    cards, recommend = await card_times(url, ids)
    await database.dispose()

    print(f"Nightly classification, {first.clients:,} clients, SQLite (as of {today})")
    row("cpu_count", str(os.cpu_count()))
    for label, report in (("first run (history for all)", first), ("next night", second)):
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items())
        row(label, f"{report.seconds:.1f} s ({parts}); {report.changes:,} changes")
    p = percentiles(single)
    row("one client after a change (p50 / p95)", f"{p['p50']:.1f} ms / {p['p95']:.1f} ms")
    row("target", "< 60 s for the nightly run")
    row("card with its top 3 actions (p50 / p95)", f"{cards['p50']:.1f} / {cards['p95']:.1f} ms")
    row("/recommend (p50 / p95)", f"{recommend['p50']:.1f} / {recommend['p95']:.1f} ms")
    total = first.clients
    row("types", shares(first.types, total))
    row("strategies", shares(first.strategies, total))
    row("risk levels", shares(first.levels, total))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-classify-") as folder:
        asyncio.run(main(working_copy(args.clients, Path(folder))))
