"""/find and the client card at 100,000 clients: handler time through the real bot.

Each sample is one update pushed through the real Application (access gate, unit of work,
search, rendering, and the sendMessage call to the loopback Bot API), timed from the start of
processing to its end. Run: ``python -m bench.bench_lookup [--clients 100000] [--samples 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import time
from typing import Any

from sqlmodel import col, select
from telegram import Update

from bench.common import percentiles, row, seeded_database
from bot.app import build_application
from bot.config import load_settings
from bot.runtime import CRMApplication
from bot.sandbox import FakeBotApi
from bot.seed import DEMO_ADMIN_TELEGRAM_ID, DEMO_MANAGER_TELEGRAM_ID
from db.models import Client, Staff
from db.session import Database

_update_ids = itertools.count(1)


def typo(word: str, rng: random.Random) -> str:
    """One realistic slip: a letter dropped, doubled or swapped with its neighbour."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def national(phone: str) -> str:
    """+79123456789 → '8 (912) 345-67-89', the way people write it."""
    d = phone[-10:]
    return f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"


def message_update(app: CRMApplication, user_id: int, text: str) -> Update:
    entities: list[dict[str, Any]] = []
    if text.startswith("/"):
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    data = {
        "update_id": next(_update_ids),
        "message": {
            "message_id": next(_update_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Bench"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Bench", "language_code": "ru"},
            "text": text,
            "entities": entities,
        },
    }
    return Update.de_json(data, app.bot)


async def timed(app: CRMApplication, user_id: int, texts: list[str]) -> list[float]:
    samples = []
    processor = app.update_processor
    for text in texts:
        update = message_update(app, user_id, text)
        started = time.perf_counter()
        await processor.do_process_update(update, app.process_update(update))
        samples.append(time.perf_counter() - started)
    return samples


async def main(url: str, seed_seconds: float | None, samples: int) -> None:
    rng = random.Random(42)
    database = Database(url)
    async with database.session() as session:
        total = len((await session.exec(select(Client.id))).all())
        picks = (
            await session.exec(
                select(Client.id, Client.name, Client.phone)
                .where(col(Client.phone).is_not(None))
                .order_by(Client.id)
            )
        ).all()
        manager = (
            await session.exec(select(Staff).where(Staff.telegram_id == DEMO_MANAGER_TELEGRAM_ID))
        ).one()
        own = (
            await session.exec(
                select(Client.id, Client.name, Client.phone).where(Client.owner_id == manager.id)
            )
        ).all()
    chosen = rng.sample(list(picks), samples)
    person = [(cid, name.split(), phone) for cid, name, phone in chosen if len(name.split()) >= 2]
    queries = {
        "exact (surname first-name)": [f"{w[0]} {w[1]}" for _, w, _ in person],
        "typo (one slip in the surname)": [f"{typo(w[0], rng)} {w[1]}" for _, w, _ in person],
        "phone (8 (9xx) xxx-xx-xx)": [national(p) for _, _, p in person],
        "client card (/client ID)": [f"/client {cid}" for cid, _, _ in person],
    }
    manager_queries = [n.split()[0] for _, n, _ in own] + [f"/client {cid}" for cid, _, _ in own]

    async with FakeBotApi(accept_unknown_chats=True) as server:
        settings = load_settings(
            bot_token=server.token, api_base_url=server.base_url, database_url=url
        )
        app = build_application(settings, Database(url), rate_limit=False)
        async with app:
            await timed(app, DEMO_ADMIN_TELEGRAM_ID, queries["exact (surname first-name)"][:20])
            results = {
                label: percentiles(await timed(app, DEMO_ADMIN_TELEGRAM_ID, texts))
                for label, texts in queries.items()
            }
            manager_result = percentiles(
                await timed(app, DEMO_MANAGER_TELEGRAM_ID, manager_queries)
            )
    await database.dispose()

    print(f"/find and card handler time, SQLite, {total:,} clients")
    row("cpu_count", str(os.cpu_count()))
    if seed_seconds is not None:
        row("seeding (not timed below)", f"{seed_seconds:.1f} s")
    row("samples per kind", str(len(person)))
    for label, figures in results.items():
        row(f"admin, {label}", _fmt(figures))
    row(f"manager ({len(own)} clients), search + card", _fmt(manager_result))
    row("target", "p95 < 30 ms")


def _fmt(figures: dict[str, float]) -> str:
    return " · ".join(f"{k} {v:.1f} ms" for k, v in figures.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    url, seed_seconds = seeded_database(args.clients)  # synchronous Alembic: before the loop
    asyncio.run(main(url, seed_seconds, args.samples))
