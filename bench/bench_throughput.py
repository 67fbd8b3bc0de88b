"""Throughput of the whole bot over the loopback Bot API against a bare echo bot, 50 staff at once.

The loopback Bot API and the 50 typists run in a process of their own, as Telegram's servers and
the staff's phones are elsewhere; the bot under test runs in this one and talks to it over HTTP
on 127.0.0.1. Every staff member types like a person: sends a message, waits for the answer,
sends the next. All bots use the same polling and update concurrency, and no rate limiter (with
one, all would be capped at Telegram's 30 messages/s and the comparison would measure the
limiter).

Workloads, each with its own fresh stand-in:
- echo: a bare echo bot repeats what the staff type (their real search texts), with PTB's
  defaults, and again with our Bot API connection pool (8 connections instead of 256);
- /help: the whole bot — access gate, conversation routing, unit of work, catalogue, template —
  for an update that reads no client data;
- search + card: the same texts as the echo bot, answered from a 100,000-client SQLite base;
- replays: a bare bot answering every text with one /help, or one card, the CRM bot sent (same
  HTML and buttons) — what sending that answer costs, with no work behind it.

Run: ``python -m bench.bench_throughput [--clients 100000] [--staff 50] [--messages 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sqlmodel import col, select
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench.common import row, seeded_database
from bot.app import (
    HTTP_CONNECTIONS,
    HTTP_POOL_WAIT,
    MAX_CONCURRENT_UPDATES,
    build_application,
    file_base_url,
)
from bot.config import load_settings
from bot.domain import Role
from bot.sandbox import ChatClient, FakeBotApi
from db.models import Client, Staff
from db.session import Database

AppFactory = Callable[[str, str], Application]  # type: ignore[type-arg]


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(update.effective_message.text or "")


def _bare(token: str, base_url: str, *, tuned: bool) -> Application:  # type: ignore[type-arg]
    """PTB's defaults and the bot's update concurrency; `tuned`: our Bot API connection pool too."""
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_base_url(base_url))
        .concurrent_updates(MAX_CONCURRENT_UPDATES)
    )
    if tuned:
        builder = builder.connection_pool_size(HTTP_CONNECTIONS).pool_timeout(HTTP_POOL_WAIT)
    return builder.build()


def echo_bot(*, tuned: bool) -> AppFactory:
    def build(token: str, base_url: str) -> Application:  # type: ignore[type-arg]
        app = _bare(token, base_url, tuned=tuned)
        app.add_handler(MessageHandler(filters.TEXT, _echo))
        return app

    return build


def fixed_answer_bot(sample: dict[str, Any]) -> AppFactory:
    """A bare bot (with our connection pool) that answers every message with one message the
    CRM bot sent — its HTML and buttons — and does nothing else: what sending it costs."""
    text = sample["text"]
    markup = sample.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    keyboard = InlineKeyboardMarkup.de_json(markup, None) if markup else None

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            text, reply_markup=keyboard, disable_web_page_preview=True
        )

    def build(token: str, base_url: str) -> Application:  # type: ignore[type-arg]
        app = _bare(token, base_url, tuned=True)
        app.add_handler(MessageHandler(filters.TEXT, answer))
        return app

    return build


def crm_bot(url: str) -> AppFactory:
    def build(token: str, base_url: str) -> Application:  # type: ignore[type-arg]
        settings = load_settings(bot_token=token, api_base_url=base_url, database_url=url)
        return build_application(settings, Database(url), rate_limit=False)

    return build


# ---- the stand-in's process ----------------------------------------------------------------


async def _drive(chats: dict[ChatClient, list[str]]) -> float:
    """All chats type at once; returns messages answered per second."""

    async def typist(chat: ChatClient, texts: list[str]) -> None:
        for text in texts:
            await chat.send(text, max_wait=60)

    started = time.perf_counter()
    await asyncio.gather(*(typist(chat, texts) for chat, texts in chats.items()))
    return sum(len(t) for t in chats.values()) / (time.perf_counter() - started)


async def _serve(pipe: Connection, scripts: dict[int, list[str]]) -> None:
    async with FakeBotApi() as server:
        # quiet=0: a typist reads the answer the moment it arrives (every workload answers with
        # one message), so the figure is the bot's, not the typists' patience.
        chats = {server.user(uid, "Staff", quiet=0.0): texts for uid, texts in scripts.items()}
        pipe.send((server.token, server.base_url))
        await asyncio.to_thread(pipe.recv)  # the bot is polling
        rate = await _drive(chats)
        missing = sum(1 for chat in chats for m in chat.messages if "не найден" in m.content)
        sent = [r.params for r in server.requests if r.method == "sendMessage"]
        pipe.send((rate, missing, sent[-1] if sent else None))
        await asyncio.to_thread(pipe.recv)  # the bot has stopped polling: the server may go


def _stand_in(pipe: Connection, scripts: dict[int, list[str]]) -> None:
    asyncio.run(_serve(pipe, scripts))


# ---- the bot's process ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    rate: float  # updates answered per second
    cpu_ms: float  # the bot process's CPU time per update (all its threads)
    missing: int  # answers that said "not found"
    sample: dict[str, Any] | None = None  # the parameters of one sendMessage the bot made

    def __str__(self) -> str:
        return f"{self.rate:.0f} updates/s · bot CPU {self.cpu_ms:.2f} ms/update"


async def measure(factory: AppFactory, scripts: dict[int, list[str]]) -> Figures:
    """Throughput of the bot `factory` builds while the typists work through `scripts`."""
    context = multiprocessing.get_context("spawn")
    pipe, child_end = context.Pipe()
    process = context.Process(target=_stand_in, args=(child_end, scripts), daemon=True)
    process.start()
    try:
        token, base_url = await asyncio.to_thread(pipe.recv)
        app = factory(token, base_url)
        assert app.updater is not None
        async with app:
            await app.updater.start_polling(poll_interval=0.0, timeout=10)
            await app.start()
            cpu = time.process_time()
            pipe.send("go")
            rate, missing, sample = await asyncio.to_thread(pipe.recv)
            cpu = time.process_time() - cpu
            await app.updater.stop()
            await app.stop()
        pipe.send("done")
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    updates = sum(len(texts) for texts in scripts.values())
    return Figures(rate, cpu / updates * 1000, missing, sample)


async def _scripts(url: str, staff: int, messages: int) -> dict[int, list[str]]:
    """For each of `staff` managers: searches for their own clients by name, and their cards."""
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


def _median(runs: list[Figures]) -> Figures:
    return sorted(runs, key=lambda f: f.rate)[len(runs) // 2]


async def main(url: str, staff: int, messages: int, rounds: int) -> None:
    scripts = await _scripts(url, staff, messages)
    help_scripts = {uid: ["/help"] * len(texts) for uid, texts in scripts.items()}
    # First runs warm the base's pages and give one real answer of each kind to replay.
    help_sample = (await measure(crm_bot(url), help_scripts)).sample
    card_sample = (await measure(crm_bot(url), scripts)).sample
    assert help_sample is not None and card_sample is not None
    workloads: dict[str, tuple[AppFactory, dict[int, list[str]]]] = {
        "echo": (echo_bot(tuned=False), scripts),
        "tuned echo": (echo_bot(tuned=True), scripts),
        "help": (crm_bot(url), help_scripts),
        "help replay": (fixed_answer_bot(help_sample), scripts),
        "lookup": (crm_bot(url), scripts),
        "card replay": (fixed_answer_bot(card_sample), scripts),
    }
    runs: dict[str, list[Figures]] = {name: [] for name in workloads}
    for _ in range(rounds):  # interleaved, so a slow spell of the machine hits every workload
        for name, (factory, texts) in workloads.items():
            runs[name].append(await measure(factory, texts))
    echo, tuned, help_, help_replay, lookup, card_replay = (
        _median(runs[name]) for name in workloads
    )
    print(f"Throughput over the loopback Bot API (its own process), {len(scripts)} staff at once")
    row("cpu_count", str(os.cpu_count()))
    row("messages per staff member · rounds (median shown)", f"{messages} · {rounds}")
    row("bare echo bot (PTB defaults)", str(echo))
    row("bare echo bot with our 8 Bot API connections", str(tuned))
    row("whole bot, /help (no client data)", str(help_))
    row("  ratio to the bare echo bot (target ≥ 80%)", f"{help_.rate / echo.rate:.0%}")
    row("  ratio to the echo bot with our connections", f"{help_.rate / tuned.rate:.0%}")
    row("  ratio to a bare bot sending the same /help", f"{help_.rate / help_replay.rate:.0%}")
    row("whole bot, search + card (100k clients)", str(lookup))
    row("  ratio to the bare echo bot", f"{lookup.rate / echo.rate:.0%}")
    row("  ratio to a bare bot sending the same card", f"{lookup.rate / card_replay.rate:.0%}")
    row("answers that were 'not found' (should be 0)", str(lookup.missing))


def _args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    args = _args()
    url, _ = seeded_database(args.clients)
    asyncio.run(main(url, args.staff, args.messages, args.rounds))
