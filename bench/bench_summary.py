"""/summary at 100,000 clients through the whole bot, text and chart, as a supervisor sees it.

Each figure is a round trip over the loopback Bot API: the update is sent, the bot answers.
Run: ``python -m bench.bench_summary [--clients 100000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from bench.common import percentiles, row, seeded_database
from bot.app import build_application
from bot.config import load_settings
from bot.sandbox import FakeBotApi, running_application
from bot.seed import DEMO_ADMIN_TELEGRAM_ID, DEMO_SUPERVISOR_TELEGRAM_ID
from db.session import Database


async def main(url: str, repeat: int) -> None:
    async with FakeBotApi() as server:
        settings = load_settings(
            bot_token=server.token, api_base_url=server.base_url, database_url=url
        )
        app = build_application(settings, Database(url), rate_limit=False)
        async with running_application(app, server):
            results = {}
            for label, telegram_id in (
                ("admin (all clients)", DEMO_ADMIN_TELEGRAM_ID),
                ("supervisor (one team)", DEMO_SUPERVISOR_TELEGRAM_ID),
            ):
                chat = server.user(telegram_id, "Bench", language_code="ru")
                await chat.send("/summary", max_wait=60)  # warm: matplotlib import, caches
                await chat.click("📈 График", max_wait=60)
                text, chart, both = [], [], []
                for _ in range(repeat):
                    started = time.perf_counter()
                    await chat.send("/summary", max_wait=60)
                    middle = time.perf_counter()
                    reply = await chat.click("📈 График", max_wait=60)
                    ended = time.perf_counter()
                    assert reply.last.photo is not None
                    text.append(middle - started)
                    chart.append(ended - middle)
                    both.append(ended - started)
                results[label] = (text, chart, both, chat.last.caption)
    print("/summary round trip over the loopback Bot API, SQLite")
    row("cpu_count", str(os.cpu_count()))
    for label, (text, chart, both, _) in results.items():
        row(f"{label}: text", _fmt(percentiles(text)))
        row(f"{label}: chart", _fmt(percentiles(chart)))
        row(f"{label}: text + chart", _fmt(percentiles(both)))
    row("target", "< 2 s including the chart")


def _fmt(figures: dict[str, float]) -> str:
    return " · ".join(f"{k} {v / 1000:.2f} s" for k, v in figures.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url, _ = seeded_database(args.clients)
    asyncio.run(main(url, args.repeat))
