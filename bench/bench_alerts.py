"""Morning digest delivery to many staff: the real bot and AIORateLimiter over the loopback Bot API.

Every staff member has clients at risk, so everyone gets a digest. The same run is repeated on a
fresh copy of the database without the rate limiter, to show that the limiter (Telegram's 30
messages/s) is the only bound: claims, digest queries, rendering and recording are much faster.
Run: ``python -m bench.bench_alerts [--staff 1000] [--clients 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from bench.common import row
from bot.app import build_application
from bot.config import load_settings
from bot.domain import RiskLevel, Role
from bot.sandbox import FakeBotApi
from bot.services import delivery
from db.migrate import upgrade
from db.models import Client, Staff
from db.session import Database

NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 10:00 in Moscow, a Friday: everyone is due


async def _seed(url: str, staff: int, clients: int) -> None:
    """Staff and their at-risk clients, in a few bulk inserts."""
    database = Database(url)
    levels = [RiskLevel.HIGH, RiskLevel.MEDIUM]
    async with database.session() as session:
        conn = await session.connection()
        people = [
            {
                "telegram_id": 10_000 + i,
                "name": f"Менеджер {i:04d}",
                "role": Role.MANAGER,
                "team": f"team-{i % 20}",
                "alert_days": "1,2,3,4,5",
                "alerts_enabled": True,
                "active": True,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i in range(staff)
        ]
        await conn.execute(insert(Staff.__table__), people)  # type: ignore[attr-defined]
        table = Staff.__table__  # type: ignore[attr-defined]
        ids = [sid for (sid,) in await conn.execute(table.select().with_only_columns(table.c.id))]
        rows = [
            {
                "name": f"Клиент {sid}-{n}",
                "owner_id": sid,
                "tags": [],
                "status": "active",
                "risk_level": levels[n % 2],
                "risk_score": 55 + 10 * (n % 4),
                "risk_reasons": [{"key": "no_purchases", "params": {"days": 90 + n}}],
                "value_at_risk": Decimal(10_000 * (n + 1)),
                "risk_computed_at": NOW,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for sid in ids
            for n in range(clients)
        ]
        for start in range(0, len(rows), 5_000):
            chunk = rows[start : start + 5_000]
            await conn.execute(insert(Client.__table__), chunk)  # type: ignore[attr-defined]
    await database.dispose()


def _peak_per_second(times: list[float]) -> int:
    """The most sendMessage calls within any one-second window."""
    times = sorted(times)
    best, left = 0, 0
    for right, moment in enumerate(times):
        while moment - times[left] >= 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


async def _deliver(url: str, *, rate_limit: bool, flood: bool = False) -> dict[str, float]:
    async with FakeBotApi(accept_unknown_chats=True) as server:
        if flood:  # answer 429 above 30 sends in any one-second window, as Telegram may
            server.enable_flood_control(30)
        settings = load_settings(
            bot_token=server.token,
            api_base_url=server.base_url,
            database_url=url,
            _env_file=None,
        )
        database = Database(url)
        app = build_application(settings, database, rate_limit=rate_limit)
        await app.bot.initialize()
        try:
            started = time.perf_counter()
            report = await delivery.run(app.bot, database, settings, clock=lambda: NOW)
            elapsed = time.perf_counter() - started
        finally:
            await app.bot.shutdown()
            await database.dispose()
        sends = [r.time for r in server.calls("sendMessage") if r.status == 200]
        return {
            "sent": report[delivery.Outcome.SENT],
            "failed": report[delivery.Outcome.FAILED],
            "elapsed": elapsed,
            "rate": report[delivery.Outcome.SENT] / elapsed,
            "peak": _peak_per_second(sends),
            "429": sum(1 for r in server.calls("sendMessage") if r.status == 429),
        }


def main(staff: int, clients: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-alerts-"))
    try:
        template = folder / "template.db"
        upgrade(f"sqlite+aiosqlite:///{template}")
        started = time.perf_counter()
        asyncio.run(_seed(f"sqlite+aiosqlite:///{template}", staff, clients))
        seeded = time.perf_counter() - started
        runs = {
            "with AIORateLimiter": {"rate_limit": True},
            "with it, Telegram-like flood control": {"rate_limit": True, "flood": True},
            "without a rate limiter": {"rate_limit": False},
        }
        results = {}
        for number, (label, options) in enumerate(runs.items()):
            copy = folder / f"run-{number}.db"
            shutil.copyfile(template, copy)
            results[label] = asyncio.run(_deliver(f"sqlite+aiosqlite:///{copy}", **options))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"Morning digest to {staff:,} staff ({clients} at-risk clients each), SQLite")
    row("cpu_count", str(os.cpu_count()))
    row("seeding (bulk inserts)", f"{seeded:.1f} s")
    for label, figures in results.items():
        row(label, f"{figures['elapsed']:.1f} s, {figures['rate']:.1f} messages/s")
        row("  sent / failed", f"{figures['sent']:.0f} / {figures['failed']:.0f}")
        row("  most sendMessage calls in one second", f"{figures['peak']:.0f}")
        if figures["429"]:
            row("  429 answers (all retried)", f"{figures['429']:.0f}")
    limited, free = results["with AIORateLimiter"], results["without a rate limiter"]
    row("target with the limiter (30 messages/s)", f"{staff / 30:.1f} s")
    row("time the limiter adds", f"{limited['elapsed'] - free['elapsed']:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--staff", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=3, help="at-risk clients per staff member")
    args = parser.parse_args()
    main(args.staff, args.clients)
