"""Throughput of the whole bot over the loopback Bot API against a bare echo bot, 50 staff at once.

Every staff member types like a person: sends a message, waits for the answer, sends the next.
Our bot answers searches and cards from a 100,000-client SQLite database; the echo bot repeats
the text. Both use the same stand-in, the same polling and the same update concurrency.
Run: ``python -m bench.bench_throughput [--clients 100000] [--staff 50] [--messages 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from sqlmodel import col, select
from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

from bench.common import row, seeded_database
from bot.app import MAX_CONCURRENT_UPDATES, build_application
from bot.config import load_settings
from bot.domain import Role
from bot.sandbox import ChatClient, FakeBotApi, running_application
from db.models import Client, Staff
from db.session import Database


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(update.effective_message.text or "")


async def _drive(chats: dict[ChatClient, list[str]]) -> float:
    """All chats type at once; returns messages answered per second."""

    async def typist(chat: ChatClient, texts: list[str]) -> None:
        for text in texts:
            await chat.send(text, max_wait=30)

    started = time.perf_counter()
    await asyncio.gather(*(typist(chat, texts) for chat, texts in chats.items()))
    elapsed = time.perf_counter() - started
    return sum(len(t) for t in chats.values()) / elapsed


async def _scripts(url: str, staff: int, messages: int) -> dict[int, list[str]]:
    """For each of `staff` managers: searches for their own clients and their cards."""
    database = Database(url)
    scripts: dict[int, list[str]] = {}
    async with database.session() as session:
        managers = (
            await session.exec(
                select(Staff).where(Staff.role == Role.MANAGER).order_by(col(Staff.id)).limit(staff)
            )
        ).all()
        for manager in managers:
            own = (
                await session.exec(
                    select(Client.id, Client.name)
                    .where(Client.owner_id == manager.id)
                    .order_by(col(Client.id))
                    .limit(messages)
                )
            ).all()
            texts = []
            for i in range(messages):
                cid, name = own[i % len(own)]
                texts.append(f"/client {cid}" if i % 2 else name)
            scripts[manager.telegram_id] = texts
    await database.dispose()
    return scripts


async def main(url: str, staff: int, messages: int) -> None:
    scripts = await _scripts(url, staff, messages)
    async with FakeBotApi() as server:
        echo_app = server.application_builder().concurrent_updates(MAX_CONCURRENT_UPDATES).build()
        echo_app.add_handler(MessageHandler(filters.TEXT, _echo))
        async with running_application(echo_app, server):
            chats = {server.user(uid, "Echo"): texts for uid, texts in scripts.items()}
            echo = await _drive(chats)
    help_scripts = {uid: ["/help"] * len(texts) for uid, texts in scripts.items()}
    help_rate, _ = await _through_bot(url, help_scripts)
    ours, missing = await _through_bot(url, scripts)
    print(f"Throughput over the loopback Bot API, {len(scripts)} staff typing at once")
    row("cpu_count", str(os.cpu_count()))
    row("messages per staff member", str(messages))
    row("bare echo bot", f"{echo:.0f} updates/s")
    row("CRM bot, /help (gate, unit of work, template)", f"{help_rate:.0f} updates/s")
    row("  ratio to echo", f"{help_rate / echo:.0%}")
    row("CRM bot, search + card (100k clients)", f"{ours:.0f} updates/s")
    row("  ratio to echo (target ≥ 80%)", f"{ours / echo:.0%}")
    row("answers that were 'not found' (should be 0)", str(missing))


async def _through_bot(url: str, scripts: dict[int, list[str]]) -> tuple[float, int]:
    """Updates per second through the whole CRM bot, and how many answers said 'not found'."""
    async with FakeBotApi() as server:
        settings = load_settings(
            bot_token=server.token, api_base_url=server.base_url, database_url=url
        )
        # Without AIORateLimiter, like the echo bot: with it both are capped at Telegram's
        # 30 messages/s and the comparison would measure the limiter, not the bot.
        app = build_application(settings, Database(url), rate_limit=False)
        async with running_application(app, server):
            chats = {server.user(uid, "Staff"): texts for uid, texts in scripts.items()}
            rate = await _drive(chats)
            missing = sum(1 for chat in chats for m in chat.messages if "не найден" in m.content)
    return rate, missing


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    url, _ = seeded_database(args.clients)
    asyncio.run(main(url, args.staff, args.messages))
