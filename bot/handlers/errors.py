"""The global error handler: log, roll the update back, tell the user something short and true."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, OperationalError
from telegram import Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application

from bot.i18n import Translator, pick_language
from bot.runtime import CRMContext, current_unit

log = logging.getLogger(__name__)


def _is_db_down(error: BaseException | None) -> bool:
    return isinstance(error, OperationalError | DBAPIError | OSError)


async def on_error(update: object, context: CRMContext) -> None:
    """Any exception in a handler ends here; the bot keeps serving."""
    unit = current_unit.get()
    if unit is not None:
        unit.failed = True
    error = context.error
    log.error("error while handling an update", exc_info=error)
    if not isinstance(update, Update) or isinstance(error, Forbidden):
        return
    user = update.effective_user
    lang = pick_language(
        context.staff.language if context.staff else None,
        user.language_code if user else None,
        context.services.settings.language,
    )
    t = Translator(lang)
    key = "errors.db_unavailable" if _is_db_down(error) else "errors.internal"
    try:
        if update.callback_query:
            await update.callback_query.answer(t.text(key), show_alert=True)
        elif update.effective_chat:
            await update.effective_chat.send_message(t.text(key))
    except TelegramError:
        log.warning("could not tell the user about the error", exc_info=True)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_error_handler(on_error)
