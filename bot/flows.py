"""Guided flows: steps that ask with buttons and typed text, kept in the database across restarts.

Every flow (log an interaction, file, resolve or reject a complaint, correct a text, move a
date) is a set of states of one persistent ConversationHandler, `crm_flows`, in group 0. One
handler rather than one per flow because PTB keeps each handler's state separately: with two, a
person could be inside both, and their next typed line would go to whichever was registered
first. Here a person is in at most one flow; starting another replaces it, and whatever the
abandoned one held that the user typed is shown back to them.

The draft of the flow in progress lives in `user_data["draft"]` (JSON only: ids, not rows),
the state in the conversation; both are written to the database after every step (see
`PersistentFlow`), so a restart of the bot loses neither.

Every step raises `ApplicationHandlerStop(next_state)` (the `step` decorator does it), so text
typed into a flow never also reaches the plain-text search (group 5) or the generic /cancel
(group 10). A person's steps run one at a time, so a double tap on a saving button saves once.

Saving goes through `save`: one transaction, committed before the user is told "saved"; when
the database is unavailable, locked or hangs, the user gets "not saved" with their text shown
back and a Try again button, and the flow waits in the `flow.retry` state.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import secrets
import warnings
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from babel.dates import format_date
from markupsafe import escape
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import callbacks
from bot.dates import DateError, parse_date
from bot.i18n import Translator, catalog, format_number
from bot.messaging import send, show
from bot.render import render
from bot.runtime import CRMContext

log = logging.getLogger(__name__)

FLOW_NAME = "crm_flows"
END = ConversationHandler.END
DRAFT = "draft"
RETRY = "flow.retry"
PREFIX = "fl"
SAVE_TIMEOUT = 15.0  # above SQLite's 5 s busy timeout: a lock gets its chance to clear first
TYPED = ("text", "step")  # draft fields that hold what the user typed
# Whitespace plus the blank-looking characters people paste to get past "empty message" checks.
INVISIBLE = " \t\n\r\xa0\u200b\u200c\u200d\u2060\u2800\u3164\ufeff"
_BUTTON = re.compile(rf"^{PREFIX}:([0-9a-f]+):([a-z]+)(?::(.*))?$")

T = TypeVar("T")


class Failed:
    """What `save` returns when nothing was saved (the user has been told)."""


FAILED = Failed()
Step = Callable[[Update, CRMContext], Awaitable[object]]
ButtonStep = Callable[[Update, CRMContext, str], Awaitable[object]]

_entry_points: list[BaseHandler[Update, CRMContext, object]] = []
_states: dict[str, list[BaseHandler[Update, CRMContext, object]]] = {}
_savers: dict[str, Step] = {}


class PersistentFlow(ConversationHandler[CRMContext]):
    """A ConversationHandler that stores its state and the user's draft after every step.

    PTB writes persistence every `update_interval` seconds; a crash in between would lose the
    step just answered. Writing right after the step makes it durable before the update counts
    as handled; rows that did not change cost nothing (bot/persistence.py).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One step at a time per person: a double tap on "Save" must not save twice.
        self._step_locks: dict[object, asyncio.Lock] = {}

    async def handle_update(  # type: ignore[override]
        self, update: Update, application: Application, check_result: Any, context: CRMContext
    ) -> object | None:
        lock = self._step_locks.setdefault(check_result[1], asyncio.Lock())
        async with lock:
            try:
                return await super().handle_update(update, application, check_result, context)
            finally:
                chat, user = update.effective_chat, update.effective_user
                application.mark_data_for_update_persistence(
                    chat_ids=chat.id if chat else None, user_ids=user.id if user else None
                )
                await application.update_persistence()


# ---- building blocks the capability modules use ---------------------------------------------


def step(callback: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[None]]:
    """Run a step; its result is the next state (None: stay), and no later group sees the update."""

    @functools.wraps(callback)
    async def run(update: Update, context: CRMContext, *args: Any) -> None:
        state = await callback(update, context, *args)
        current = draft(context)
        if current and state not in (None, END):
            current["state"] = state
        raise ApplicationHandlerStop(state)

    return run


def entry(handler: BaseHandler[Update, CRMContext, object]) -> None:
    """Register a way into a flow (a command, a button); call at import time."""
    _entry_points.append(handler)


def on_text(state: str, callback: Step) -> None:
    """What a state does with typed text (commands excluded)."""

    async def checked(update: Update, context: CRMContext) -> object:
        if not draft(context):
            return await _lost(update, context)
        return await callback(update, context)

    checked.__name__ = getattr(callback, "__name__", "text")
    handler = MessageHandler(filters.TEXT & ~filters.COMMAND, step(checked))
    _states.setdefault(state, []).append(handler)


async def _lost(update: Update, context: CRMContext) -> object:
    # A state without its draft (user data cleared by hand): nothing to continue; say so.
    await answer(update)
    await send(update, context.t("flow.gone"))
    return END


def on_button(state: str, action: str, callback: ButtonStep) -> None:
    """What a state does with one of its own buttons; buttons of an older flow are stale."""

    async def checked(update: Update, context: CRMContext) -> object:
        if not draft(context):
            return await _lost(update, context)
        value = _own_button(update, context)
        if value is None:
            return await stale_in_flow(update, context)
        return await callback(update, context, value)

    checked.__name__ = getattr(callback, "__name__", "button")
    handler = CallbackQueryHandler(step(checked), pattern=rf"^{PREFIX}:[0-9a-f]+:{action}(:|$)")
    _states.setdefault(state, []).append(handler)


def saver(kind: str) -> Callable[[Step], Step]:
    """Register the step that saves a flow of this kind (what "Try again" runs)."""

    def register(callback: Step) -> Step:
        _savers[kind] = callback
        return callback

    return register


def _own_button(update: Update, context: CRMContext) -> str | None:
    """The button's value if it belongs to the flow in progress, else None."""
    query = update.callback_query
    match = _BUTTON.match(query.data or "") if query else None
    current = draft(context)
    if not match or not current or match[1] != current.get("nonce"):
        return None
    return match[3] or ""


# ---- the draft --------------------------------------------------------------------------------


def draft(context: CRMContext) -> dict[str, Any]:
    """The flow in progress ({} when none)."""
    data = context.user_data
    return data.get(DRAFT) or {} if data is not None else {}


def begin(context: CRMContext, flow: str, **fields: Any) -> tuple[dict[str, Any], dict | None]:
    """Start a flow; returns the new draft and the one it replaced, if any."""
    assert context.user_data is not None
    old = context.user_data.pop(DRAFT, None)
    new = {"flow": flow, "nonce": secrets.token_hex(3), **fields}
    context.user_data[DRAFT] = new
    return new, old


def finish(context: CRMContext) -> dict[str, Any]:
    """End the flow: drop its draft."""
    return (context.user_data or {}).pop(DRAFT, None) or {}


def fits_one(*texts: str) -> bool:
    """Whether these texts, escaped and in <pre> blocks, stay within one message.

    A <pre> cut in two by a long message's split would break the HTML; longer texts go plain.
    """
    return sum(len(escape(text)) for text in texts) < 3500


def typed(current: dict[str, Any]) -> list[str]:
    """What the user typed into this draft, to show back when it was not saved."""
    return [current[k] for k in TYPED if current.get(k)]


def button(
    current: dict[str, Any], label: str, action: str, value: object = ""
) -> InlineKeyboardButton:
    """A button of this flow's current step: fl:<nonce>:<action>[:<value>]."""
    parts = [PREFIX, current["nonce"], action] + ([value] if value != "" else [])
    return InlineKeyboardButton(label, callback_data=callbacks.pack(*parts))


def cancel_button(current: dict[str, Any], t: Translator) -> InlineKeyboardButton:
    return button(current, t.text("flow.cancel"), "x")


def check_text(text: str, limit: int, t: Translator) -> str | None:
    """Why a typed text cannot be taken (empty, too long), or None."""
    if not text.strip(INVISIBLE):
        return t("flow.empty")
    if len(text) > limit:
        length = format_number(len(text), t.lang)
        return t("flow.too_long", limit=t.text("flow.chars", n=limit), length=length)
    return None


async def start(update: Update, context: CRMContext, flow: str, **fields: Any) -> dict[str, Any]:
    """Begin a flow; if it replaces one with typed text, show that text back first."""
    new, old = begin(context, flow, **fields)
    if old and typed(old):
        what = _what(context, old)
        await send(update, render("flow_abandoned", context.lang, what=what, texts=typed(old)))
    return new


# ---- saving --------------------------------------------------------------------------------


DB_ERRORS = (OperationalError, DBAPIError, TimeoutError, OSError)


async def save(
    update: Update, context: CRMContext, work: Callable[[AsyncSession], Awaitable[T]]
) -> T | Failed:
    """Run `work` and commit it as one transaction; FAILED when it could not be saved.

    On failure the transaction is rolled back and the user gets "not saved" with their typed
    text shown back and a Try again button; the draft stays, so nothing has to be retyped.
    """
    try:
        async with asyncio.timeout(SAVE_TIMEOUT):
            result = await work(context.session)
            await context.commit()
        return result
    except DB_ERRORS:
        log.warning("save failed: database unavailable", exc_info=True)
        reason = "db"
    except Exception:
        log.exception("save failed")
        reason = "internal"
    current = draft(context)
    t = context.t
    keyboard = InlineKeyboardMarkup(
        [[button(current, t.text("flow.retry"), "retry"), cancel_button(current, t)]]
    )
    await _not_saved(update, context, reason, typed(current), keyboard)
    return FAILED


async def load(
    update: Update,
    context: CRMContext,
    work: Callable[[AsyncSession], Awaitable[T]],
    texts: list[str],
) -> T | Failed:
    """A read before a flow starts (the client of a one-line /log); FAILED when the database
    is unavailable, after showing `texts` - what the user typed - back to them."""
    try:
        async with asyncio.timeout(SAVE_TIMEOUT):
            return await work(context.session)
    except DB_ERRORS:
        log.warning("read failed: database unavailable", exc_info=True)
    await _not_saved(update, context, "db", [x for x in texts if x], None)
    return FAILED


async def _not_saved(
    update: Update,
    context: CRMContext,
    reason: str,
    texts: list[str],
    keyboard: InlineKeyboardMarkup | None,
) -> None:
    context.unit.failed = True  # nothing of this update may be committed after a failure
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            await context.session.rollback()
    body = render(
        "not_saved",
        context.lang,
        reason=reason,
        texts=texts,
        fits=fits_one(*texts),
        retry=keyboard is not None,
    )
    await answer(update)
    await send(update, body, keyboard)


async def answer(update: Update, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press (once), never failing the step over it."""
    query = update.callback_query
    if query is not None:
        with contextlib.suppress(Exception):
            await query.answer(text, show_alert=alert)


async def reply(
    update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Edit the step message a button was pressed on, or send a new one after typed text."""
    await answer(update)
    return await show(update, text, keyboard)


# ---- dates ---------------------------------------------------------------------------------


def day_label(day: date, lang: str) -> str:
    return format_date(day, "EEE d MMM", locale=lang)


def due_buttons(current: dict[str, Any], today: date, t: Translator) -> list[list[Any]]:
    """Quick due dates: today, tomorrow, in 3 days, Monday, in a week (duplicates dropped)."""
    monday = today + timedelta(days=(7 - today.weekday()) or 7)
    choices = [
        ("today", today),
        ("tomorrow", today + timedelta(days=1)),
        ("in3", today + timedelta(days=3)),
        ("monday", monday),
        ("week", today + timedelta(days=7)),
    ]
    seen: set[date] = set()
    labelled = []
    for key, day in choices:
        if day in seen:
            continue
        seen.add(day)
        label = t.text(f"due.{key}", day=day_label(day, t.lang))
        labelled.append(button(current, label, "d", day.strftime("%Y%m%d")))
    return [labelled[:3], labelled[3:]] if len(labelled) > 3 else [labelled]


def due_from_button(value: str, today: date) -> date | None:
    """The date a quick-date button carries, if it is still today or later."""
    try:
        day = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None
    return day if day >= today else None


def date_problem(error: DateError, t: Translator) -> str:
    """Why a typed date was not taken, for the user."""
    return t(f"due.error_{error.reason}", text=error.text[:100])


def read_date(text: str, today: date, t: Translator) -> tuple[date | None, str | None]:
    """(date, None) or (None, what is wrong with it)."""
    try:
        return parse_date(text, today), None
    except DateError as error:
        return None, date_problem(error, t)


# ---- steps every flow shares ------------------------------------------------------------------


async def cancel(update: Update, context: CRMContext) -> object:
    """/cancel or the Cancel button: end the flow, show back what was typed."""
    if update.callback_query and _own_button(update, context) is None:
        return await stale_in_flow(update, context)
    current = finish(context)
    text = render("flow_cancelled", context.lang, texts=typed(current))
    await reply(update, text)
    return END


async def stale_in_flow(update: Update, context: CRMContext) -> object:
    """A button of a step already answered, or of an older flow."""
    await answer(update, context.t.text("errors.stale"), alert=True)
    return None


async def remind(update: Update, context: CRMContext) -> object:
    """Typed text where the step wants a button: say so; the flow stays where it was."""
    await send(update, render("flow_remind", context.lang, what=_what(context, draft(context))))
    return None


def _what(context: CRMContext, current: dict[str, Any]) -> str:
    """'logging a contact with Ivanov': flow.what.<flow> when the catalogue has it."""
    key = f"flow.what.{current.get('flow')}"
    if key in catalog(context.lang) and current.get("client"):
        return context.t(key, client=current["client"])
    return context.t("flow.what_generic")


async def retry(update: Update, context: CRMContext, _value: str) -> object:
    current = draft(context)
    save_step = _savers.get(current.get("flow", ""))
    if save_step is None:
        return await stale_in_flow(update, context)
    return await save_step(update, context)


async def stale_button(update: Update, context: CRMContext) -> None:
    """A flow button pressed when no flow is in progress (finished, cancelled, replaced)."""
    await answer(update, context.t.text("flow.gone"), alert=True)


on_button(RETRY, "retry", retry)


def install(app: Application) -> None:  # type: ignore[type-arg]
    """Add the flows' ConversationHandler to `app` once (every flow module calls this)."""
    if any(isinstance(h, PersistentFlow) for h in app.handlers.get(0, [])):
        return
    fallbacks: list[BaseHandler[Update, CRMContext, object]] = [
        CommandHandler("cancel", step(cancel)),
        CallbackQueryHandler(step(cancel), pattern=rf"^{PREFIX}:[0-9a-f]+:x$"),
        CallbackQueryHandler(step(stale_in_flow), pattern=rf"^{PREFIX}:"),
        MessageHandler(filters.TEXT & ~filters.COMMAND, step(remind)),
    ]
    with warnings.catch_warnings():
        # Buttons are matched per user, not per message, on purpose: the nonce in their data
        # tells a current button from an old one.
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        handler = PersistentFlow(
            entry_points=list(_entry_points),
            states={name: list(handlers) for name, handlers in _states.items()},
            fallbacks=fallbacks,
            allow_reentry=True,
            per_chat=True,
            per_user=True,
            name=FLOW_NAME,
            persistent=True,
        )
    app.add_handler(handler)
    app.add_handler(CallbackQueryHandler(stale_button, pattern=rf"^{PREFIX}:"))


Asker = Callable[..., Awaitable[object]]


def typed_text(update: Update) -> str:
    """What the user typed, trimmed ('' for anything that is not text)."""
    message = update.effective_message
    return (message.text or "").strip() if message else ""


async def pick(
    update: Update,
    context: CRMContext,
    value: str,
    *,
    choices: type[StrEnum],
    field: str,
    ask: Asker,
) -> object:
    """A button answer: store it in the draft and ask the next question; refuse a stale value."""
    if value not in choices.__members__.values():
        return await stale_in_flow(update, context)
    draft(context)[field] = value
    return await ask(update, context)


async def take_text(
    update: Update,
    context: CRMContext,
    *,
    limit: int,
    ask: Asker,
    append: bool = False,
    notice: object = None,
) -> object:
    """Typed text into the draft's text (added to it when typed early); too long stays put."""
    current = draft(context)
    text = typed_text(update)
    if append and current.get("text"):
        text = f"{current['text']}\n{text}"
    problem = check_text(text, limit, context.t)
    if problem:
        await send(update, problem)
        return None
    current["text"] = text
    return (
        await ask(update, context, notice=notice)
        if notice is not None
        else await ask(update, context)
    )
