"""The access gate: runs first for every update; only active staff get past it."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.i18n import Translator, pick_language
from bot.messaging import send
from bot.render import render
from bot.runtime import CRMContext

log = logging.getLogger(__name__)
GATE_GROUP = -100


async def gate(update: Update, context: CRMContext) -> None:
    """Let active staff through; give anyone else their Telegram id and nothing more."""
    user = update.effective_user
    chat = update.effective_chat
    # Client data never goes to groups or channels, where others could read it.
    if user is None or (chat is not None and chat.type != ChatType.PRIVATE):
        raise ApplicationHandlerStop
    context._tg_language = user.language_code  # type: ignore[attr-defined]
    staff = await context.services.staff.lookup(lambda: context.session, user.id)
    if staff is None:
        await refuse(update, context, user.id, user.language_code)
        raise ApplicationHandlerStop
    context.staff = staff


async def refuse(update: Update, context: CRMContext, telegram_id: int, code: str | None) -> None:
    lang = pick_language(code, context.services.settings.language)
    log.info("refused update from non-staff Telegram id %s", telegram_id)
    if update.callback_query:
        text = Translator(lang).text("access.refused_short", telegram_id=telegram_id)
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message:
        await send(update, render("refused", lang, telegram_id=telegram_id))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(TypeHandler(Update, gate), group=GATE_GROUP)
