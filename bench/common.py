"""Shared set-up for benchmarks: a seeded SQLite database kept between runs, figure printing."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bot.seed import seed_demo
from bot.services.classification import classify_database
from db.migrate import upgrade
from db.session import Database

CACHE_DIR = Path(os.environ.get("CRM_BENCH_DIR", tempfile.gettempdir()))


def seeded_database(
    clients: int, *, fresh: bool = False, classified: bool = True
) -> tuple[str, float | None]:
    """A migrated SQLite file with `clients` demo clients (classified unless asked not to);
    made once, then reused."""
    suffix = "-classified" if classified else ""
    path = CACHE_DIR / f"crm-bench-{clients}{suffix}.db"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    if path.exists():
        upgrade(url)  # a cached base made before a newer migration
        return url, None
    upgrade(url)

    async def _seed() -> float:
        database = Database(url)
        try:
            started = time.perf_counter()
            await seed_demo(database, clients=clients, seed=7)
            if classified:  # like a live base after its first night: real cards and summaries
                await classify_database(database, source="seed")
            return time.perf_counter() - started
        finally:
            await database.dispose()

    return url, asyncio.run(_seed())


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/max in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50": statistics.median(ordered) * 1000,
        "p95": p95 * 1000,
        "max": ordered[-1] * 1000,
    }


def row(label: str, value: str) -> None:
    print(f"  {label:<44} {value}")
