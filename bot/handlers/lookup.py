"""Finding clients and showing their card."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import callbacks
from bot.i18n import Translator
from bot.menu import MenuCommand
from bot.messaging import send, show
from bot.render import render
from bot.runtime import CRMContext
from bot.search_terms import parse_query
from bot.services.card import Card, load_card
from db.repositories import search as search_repo

MENU = [MenuCommand("find", order=10), MenuCommand("client", order=11)]
PAGE_SIZE = 8
QUERY_MAX = 200
_CLIENT_ID = re.compile(r"^#?(\d{1,12})$")


def parse_client_id(text: str | None) -> int | None:
    """A client id as typed: '42' or '#42'."""
    match = _CLIENT_ID.match((text or "").strip())
    return int(match[1]) if match else None


ButtonRow = Callable[[Card, Translator], list[InlineKeyboardButton] | None]
CardExtra = Callable[[CRMContext, Card], Awaitable[None]]
_card_rows: dict[ButtonRow, int] = {}
_card_extras: list[CardExtra] = []


def card_buttons(order: int) -> Callable[[ButtonRow], ButtonRow]:
    """Register a row of card buttons (log a call, complaint, …); rows show by `order`."""

    def register(builder: ButtonRow) -> ButtonRow:
        _card_rows[builder] = order
        return builder

    return register


def card_extra(loader: CardExtra) -> CardExtra:
    """Register a loader that adds to the card before it renders (recommendations, risk)."""
    if loader not in _card_extras:
        _card_extras.append(loader)
    return loader


def card_keyboard(card: Card, t: Translator) -> InlineKeyboardMarkup:
    """Buttons for what can be done next with this client."""
    rows = []
    for builder in sorted(_card_rows, key=_card_rows.__getitem__):
        row = builder(card, t)
        if row:
            rows.append(row)
    refresh = callbacks.pack(callbacks.CARD, card.client.id)
    rows.append([InlineKeyboardButton(t.text("card.refresh"), callback_data=refresh)])
    return InlineKeyboardMarkup(rows)


async def show_card(update: Update, context: CRMContext, client_id: int, ref: str) -> None:
    services = context.services
    card = await load_card(
        context.session,
        client_id=client_id,
        scope=context.scope,
        today=services.today(context.tz),
        now=services.now(),
    )
    if card is None:
        await show(update, context.t("errors.not_found", ref=ref))
        return
    for loader in _card_extras:
        await loader(context, card)
    text = render("card", context.lang, card=card, tz=context.tz)
    await show(update, text, card_keyboard(card, context.t))


async def client_command(update: Update, context: CRMContext) -> None:
    """/client ID — open a client's card."""
    arg = " ".join(context.args or [])
    client_id = parse_client_id(arg)
    if client_id is None:
        await send(update, context.t("errors.bad_client_id"))
        return
    await show_card(update, context, client_id, f"#{client_id}")


async def find_command(update: Update, context: CRMContext) -> None:
    """/find TEXT — search clients in scope."""
    text = " ".join(context.args or []).strip()
    if not text:
        await send(update, context.t("find.usage"))
        return
    await run_search(update, context, text, page=1)


async def plain_text(update: Update, context: CRMContext) -> None:
    """A plain message that no flow is waiting for is a search."""
    message = update.effective_message
    text = (message.text or "").strip() if message else ""
    if not text:
        return
    client_id = parse_client_id(text) if text.startswith("#") else None
    if client_id is not None:
        await show_card(update, context, client_id, f"#{client_id}")
        return
    await run_search(update, context, text, page=1)


def _page_button(label: str, page: int, text: str, context: CRMContext) -> InlineKeyboardButton:
    if callbacks.fits(callbacks.FIND, page, text):
        data = callbacks.pack(callbacks.FIND, page, text)
    else:  # too long for 64 bytes: remember it for this user under a short key
        saved: dict[str, str] = context.user_data.setdefault("searches", {})  # type: ignore[union-attr]
        key = next((k for k, v in saved.items() if v == text), None)
        if key is None:
            key = str(len(saved) % 20)
            saved[key] = text
        data = callbacks.pack(callbacks.FIND_KEY, page, key)
    return InlineKeyboardButton(label, callback_data=data)


async def run_search(update: Update, context: CRMContext, text: str, page: int) -> None:
    if len(text) > QUERY_MAX:
        await send(update, context.t("errors.too_long", limit=QUERY_MAX))
        return
    query = parse_query(text)
    t = context.t
    hits = []
    if not query.empty:
        hits = await search_repo.find(context.session, query=query, scope=context.scope)
    if len(hits) == 1 and page == 1:
        await show_card(update, context, hits[0].client_id, f"#{hits[0].client_id}")
        return
    if not hits:
        suggestions = (
            await search_repo.suggest(context.session, query=query, scope=context.scope)
            if query.words
            else []
        )
        keyboard = _hit_buttons(suggestions, t) if suggestions else None
        await show(
            update,
            render("search_none", context.lang, query=text, suggestions=suggestions),
            keyboard,
        )
        return
    pages = math.ceil(len(hits) / PAGE_SIZE)
    page = min(max(page, 1), pages)
    chunk = hits[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    keyboard = _hit_buttons(chunk, t)
    nav = []
    if page > 1:
        nav.append(_page_button(t.text("find.back"), page - 1, text, context))
    if page < pages:
        nav.append(_page_button(t.text("find.more"), page + 1, text, context))
    rows = list(keyboard.inline_keyboard) + ([nav] if nav else [])
    body = render(
        "search_results",
        context.lang,
        total=len(hits),
        page=page,
        pages=pages,
        fuzzy=any(h.fuzzy for h in hits),
    )
    await show(update, body, InlineKeyboardMarkup(rows))


def _label(name: str, company: str | None) -> str:
    label = f"{name} · {company}" if company and company != name else name
    return label if len(label) <= 60 else label[:59] + "…"


def _hit_buttons(hits: list[search_repo.Hit], t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _label(h.name, h.company),
                    callback_data=callbacks.pack(callbacks.CARD, h.client_id),
                )
            ]
            for h in hits
        ]
    )


async def on_card_button(update: Update, context: CRMContext) -> None:
    """A client button in a list, or Refresh on a card."""
    query = update.callback_query
    assert query is not None
    parts = callbacks.unpack(query.data)
    client_id = parse_client_id(parts[1]) if len(parts) > 1 else None
    if client_id is None:
        await query.answer(context.t.text("errors.stale"), show_alert=True)
        return
    await query.answer()
    await show_card(update, context, client_id, f"#{client_id}")


async def on_find_page(update: Update, context: CRMContext) -> None:
    """'More' and 'Back' in a result list."""
    query = update.callback_query
    assert query is not None
    head, page_text, rest = [*callbacks.unpack(query.data), "", "", ""][:3]
    text: str | None = rest
    if head == callbacks.FIND_KEY:
        text = (context.user_data or {}).get("searches", {}).get(rest)
    if not text or not page_text.isdigit():
        await query.answer(context.t.text("errors.stale"), show_alert=True)
        return
    await query.answer()
    await run_search(update, context, text, page=int(page_text))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("find", find_command))
    app.add_handler(CommandHandler("client", client_command))
    app.add_handler(CallbackQueryHandler(on_card_button, pattern=r"^card:"))
    app.add_handler(CallbackQueryHandler(on_find_page, pattern=r"^findk?:"))
    # Plain text searches only when no conversation took it (conversations live in group 0).
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, plain_text), group=5)
