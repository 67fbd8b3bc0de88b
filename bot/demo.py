"""`crmbot demo`: the real bot on the loopback Bot API, with a terminal chat to talk to it."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.text import Text
from sqlalchemy import func
from sqlmodel import select

from bot.app import build_application
from bot.config import load_settings
from bot.sandbox import ChatClient, ChatMessage, FakeBotApi, Reply, running_application
from bot.seed import (
    DEMO_ADMIN_TELEGRAM_ID,
    DEMO_MANAGER_TELEGRAM_ID,
    DEMO_SUPERVISOR_TELEGRAM_ID,
    seed_demo,
)
from bot.services import classification
from db.migrate import upgrade
from db.models import Client, Staff
from db.session import Database

PHONE_WIDTH = 64  # a phone screen's worth of characters
HELP = (
    "Type as you would in Telegram: a client's name (typos welcome), /find, /client 12, /help.\n"
    "A number presses that button. :m manager, :s supervisor, :a admin, :q quit."
)


@dataclass
class Persona:
    key: str
    telegram_id: int
    label: str


PERSONAS = {
    "m": Persona("m", DEMO_MANAGER_TELEGRAM_ID, "manager"),
    "s": Persona("s", DEMO_SUPERVISOR_TELEGRAM_ID, "supervisor"),
    "a": Persona("a", DEMO_ADMIN_TELEGRAM_ID, "admin"),
}


async def prepare_database(path: Path, clients: int, console: Console) -> str:
    """Migrate and seed the demo file the first time; reuse it afterwards."""
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    try:
        async with database.session() as session:
            count = (await session.exec(select(func.count()).select_from(Client))).one()
        if not count:
            console.print(f"Seeding a demo database with {clients} clients in {path} …")
            await seed_demo(database, clients=clients, seed=1)
            # Every client gets its type, strategy and risk, as the nightly job would give them.
            await classification.classify_database(database, source="seed")
    finally:
        await database.dispose()
    return url


def _buttons(message: ChatMessage) -> list[str]:
    return [label for row in message.buttons for label, _ in row]


def show(console: Console, reply: Reply, who: Persona) -> None:
    """Print what the bot sent or edited, each as a phone-width bubble with numbered buttons."""
    seen: set[int] = set()
    for message in [*reply.messages, *reply.edits]:
        if message.message_id in seen:
            continue
        seen.add(message.message_id)
        body = Text(message.content or "")
        labels = _buttons(message)
        if labels:
            body.append("\n\n")
            for number, label in enumerate(labels, start=1):
                body.append(f"[{number}] ", style="bold cyan")
                body.append(f"{label}\n")
        title = "bot (edited)" if message.edited else "bot"
        width = min(console.width, PHONE_WIDTH)
        console.print(Panel(body, title=title, title_align="left", width=width))
    if reply.callback_answer and reply.callback_answer.text:
        console.print(f"[yellow]⚑ {reply.callback_answer.text}[/]")
    if not reply:
        console.print(f"[dim]({who.label}: no answer)[/]")


async def _step(client: ChatClient, line: str) -> Reply:
    if line.isdigit():
        labels = _buttons(client.last) if client.messages else []
        index = int(line) - 1
        if 0 <= index < len(labels):
            return await client.click(labels[index], expect_reply=False)
    return await client.send(line, expect_reply=False)


async def _tour(chats: dict[str, ChatClient], database: Database, console: Console) -> None:
    """What a newcomer would try first, for a terminal without a keyboard (CI, pipes)."""
    async with database.session() as session:
        stmt = (
            select(Client.name)
            .join(Staff, Staff.id == Client.owner_id)
            .where(Staff.telegram_id == DEMO_MANAGER_TELEGRAM_ID)
            .order_by(Client.id)
            .limit(1)
        )
        name = (await session.exec(stmt)).first() or "Иванов"
    surname = name.split()[0]
    typo = surname[:-2] + surname[-1] if len(surname) > 4 else surname
    manager = chats["m"]
    for line in ("/start", typo):
        console.print(f"[bold green]manager ›[/] {line}")
        reply = await _step(manager, line)
        show(console, reply, PERSONAS["m"])
    if reply and "#" not in reply.last.content.split("\n")[0]:  # a list: open the first client
        console.print("[bold green]manager ›[/] 1")
        show(console, await _step(manager, "1"), PERSONAS["m"])


async def run_demo(path: Path, *, clients: int = 500, interactive: bool | None = None) -> None:
    console = Console()
    url = await prepare_database(path, clients, console)
    interactive = sys.stdin.isatty() if interactive is None else interactive
    async with FakeBotApi() as server:
        settings = load_settings(
            bot_token=server.token, api_base_url=server.base_url, database_url=url
        )
        database = Database(url)
        app = build_application(settings, database, rate_limit=False)
        async with running_application(app, server):
            chats = {
                key: server.user(p.telegram_id, p.label.title(), language_code="ru")
                for key, p in PERSONAS.items()
            }
            if not interactive:
                await _tour(chats, database, console)
                return
            console.print(Panel(HELP, title="CRM Assistant demo", width=PHONE_WIDTH))
            who = PERSONAS["m"]
            show(console, await chats["m"].send("/start"), who)
            while True:
                try:
                    line = (await asyncio.to_thread(input, f"{who.label} › ")).strip()
                except (EOFError, KeyboardInterrupt):
                    break
                if line in (":q", ":quit"):
                    break
                if line.startswith(":") and line[1:] in PERSONAS:
                    who = PERSONAS[line[1:]]
                    console.print(f"[dim]now chatting as the demo {who.label}[/]")
                    continue
                if not line:
                    continue
                show(console, await _step(chats[who.key], line), who)
