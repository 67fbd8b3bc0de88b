"""Risk scoring at 100,000 clients and ~1M sales on SQLite, against a plain aggregate (the floor).

Scoring = reading the risk features set-wise (sales, complaints, interactions, clients), P(alive)
from the stored BG/NBD fit, the signals, levels, value at risk and reasons for every client.
The floor is one plain `SELECT client_id, count(*), sum(amount), max(date) FROM sale GROUP BY
client_id` through the same driver: no scoring can read the sales faster than that. Writing the
scores back is timed separately.

Run: ``python -m bench.bench_risk [--clients 100000] [--repeat 3]``. Prints, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.bench_classify import seed_day, working_copy
from bench.common import row
from bot.services import classification
from db.session import Database

FLOOR = "SELECT client_id, count(*), sum(amount), max(date) FROM sale GROUP BY client_id"


async def main(url: str, repeat: int) -> None:
    database = Database(url)
    today = await seed_day(database)
    now = classification.noon(today)
    classification.configure(clock=lambda: now)
    config = classification.engine.config
    # Scoring reuses the stored calibration, as every run after the first night does.
    await classification.classify_database(database, source="nightly", now=now)

    floors, scores = [], []
    outcome = None
    for _ in range(repeat):
        async with database.session() as session:
            conn = await session.connection()
            started = time.perf_counter()
            rows = (await conn.exec_driver_sql(FLOOR)).fetchall()
            floors.append(time.perf_counter() - started)
            started = time.perf_counter()
            outcome = await classification.compute(
                session,
                now=now,
                today=today,
                client_ids=None,
                config=config,
                classification=False,
            )
            scores.append(time.perf_counter() - started)
    assert outcome is not None
    async with database.session() as session:
        started = time.perf_counter()
        await classification.write(session, outcome, now=now, today=today, source="risk")
        wrote = time.perf_counter() - started
    await database.dispose()

    floor, score = min(floors), min(scores)
    levels = outcome.risk.level.tolist()
    print(f"Risk scoring, {len(levels):,} clients, {len(rows):,} with sales, SQLite")
    row("cpu_count", str(os.cpu_count()))
    row("floor: one plain GROUP BY over sale", f"{floor:.2f} s")
    row("scoring: read + P(alive) + signals + reasons", f"{score:.2f} s")
    row("ratio to the floor", f"{score / floor:.1f}× (target ≤ 5×)")
    row("writing the scores back", f"{wrote:.2f} s")
    row("target", "< 20 s for scoring")
    high = sum(1 for level in levels if level == "high")
    medium = sum(1 for level in levels if level == "medium")
    row("levels", f"high {high:,} · medium {medium:,} · low {len(levels) - high - medium:,}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-risk-") as folder:
        asyncio.run(main(working_copy(args.clients, Path(folder)), args.repeat))
