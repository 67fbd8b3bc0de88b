"""Looking back and ahead: /history (a client's timeline), /audit (who changed what), /today."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from markupsafe import Markup
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import callbacks, flows
from bot.domain import Role
from bot.handlers.corrections import PREFIX as FIX
from bot.handlers.lookup import card_buttons, parse_client_id
from bot.i18n import Translator, catalog, format_day, format_moment
from bot.menu import SUPERVISORS, MenuCommand
from bot.messaging import send, show
from bot.render import MAX_MESSAGE, render
from bot.runtime import CRMContext
from bot.services import interactions as interactions_service
from bot.services.card import Card
from db.models import Client
from db.repositories import clients as clients_repo
from db.repositories import history as history_repo
from db.repositories import interactions as interactions_repo

MENU = [
    MenuCommand("today", order=21),
    MenuCommand("history", order=22),
    MenuCommand("audit", SUPERVISORS, order=70),
]
HISTORY, AUDIT, TODAY = "hi", "au", "td"
MOVE = "move.due"
HISTORY_PAGE = 8
AUDIT_PAGE = 10
TODAY_PAGE = 8
BUDGET = MAX_MESSAGE - 200  # room for what Telegram counts differently from our HTML
VALUE_MAX = 80
ENTITY_CODES = {"interaction": "i", "complaint": "c"}
AUDIT_FIELDS = frozenset(
    {
        "kind",
        "outcome",
        "text",
        "occurred_at",
        "next_step",
        "next_step_due",
        "next_step_done_at",
        "staff_id",
        "category",
        "severity",
        "status",
        "due_at",
        "resolution",
        "resolved_at",
        "satisfaction",
        "escalated_at",
        "notified_staff_ids",
        "owner_id",
    }
)
STAFF_FIELDS = frozenset({"owner_id", "staff_id", "notified_staff_ids"})
ENUM_FIELDS = {"kind": "kind", "outcome": "outcome", "status": "cstatus"}
ENUM_FIELDS |= {"category": "category", "severity": "severity"}
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@card_buttons(order=11)
def _card_row(card: Card, t: Translator) -> list[InlineKeyboardButton]:
    data = callbacks.pack(HISTORY, card.client.id, 0)
    return [InlineKeyboardButton(t.text("history.card_button"), callback_data=data)]


def _fit(render_page: Any, items: list[Any]) -> tuple[str, int]:
    """Render as many of `items` as fit in one message; (text, how many)."""
    count = len(items)
    body = render_page(items)
    while len(body) > BUDGET and count > 1:
        count -= 1
        body = render_page(items[:count])
    return body, count


def _nav(t: Translator, prefix: tuple[object, ...], offset: int, shown: int, page: int, more: bool):  # type: ignore[no-untyped-def]
    nav = []
    if offset > 0:
        back = callbacks.pack(*prefix, max(offset - page, 0))
        nav.append(InlineKeyboardButton(t.text("history.newer"), callback_data=back))
    if more:
        forward = callbacks.pack(*prefix, offset + shown)
        nav.append(InlineKeyboardButton(t.text("history.older"), callback_data=forward))
    return nav


async def _client(update: Update, context: CRMContext, client_id: int) -> Client | None:
    client = await clients_repo.get_in_scope(
        context.session, client_id=client_id, scope=context.scope
    )
    if client is None:
        await flows.answer(update)
        await send(update, context.t("errors.not_found", ref=f"#{client_id}"))
    return client


def _page_args(update: Update) -> tuple[int, int] | None:
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2])
    return None


# ---- /history ---------------------------------------------------------------------------------


async def history_command(update: Update, context: CRMContext) -> None:
    """/history ID — the client's interactions, complaints and sales, newest first."""
    client_id = parse_client_id(" ".join(context.args or []))
    if client_id is None:
        await send(update, context.t("history.usage"))
        return
    await _show_history(update, context, client_id, 0)


async def on_history_page(update: Update, context: CRMContext) -> None:
    args = _page_args(update)
    if args is None:
        await flows.answer(update, context.t.text("errors.stale"), alert=True)
        return
    await _show_history(update, context, *args)


async def _show_history(update: Update, context: CRMContext, client_id: int, offset: int) -> None:
    client = await _client(update, context, client_id)
    if client is None:
        return
    session = context.session
    items, more = await history_repo.timeline(
        session, client_id=client_id, limit=HISTORY_PAGE, offset=offset
    )
    counts = await history_repo.counts(session, client_id=client_id)
    now, me, t = context.services.now(), context.me.id, context.t
    numbered = list(enumerate(items, start=offset + 1))

    def page(chunk: list[Any]) -> str:
        return render(
            "history",
            context.lang,
            client=client,
            items=chunk,
            counts=counts,
            offset=offset,
            tz=context.tz,
            icons=_icons(),
        )

    body, shown = _fit(page, numbered)
    more = more or shown < len(numbered)
    rows = []
    for n, item in numbered[:shown]:
        code = ENTITY_CODES.get(item.kind)
        if code and interactions_service.can_edit(item.row, staff_id=me, now=now):
            rows.append(
                [
                    InlineKeyboardButton(
                        t.text("history.edit_n", n=n),
                        callback_data=callbacks.pack(FIX, "e", code, item.id),
                    ),
                    InlineKeyboardButton(
                        t.text("history.delete_n", n=n),
                        callback_data=callbacks.pack(FIX, "d", code, item.id),
                    ),
                ]
            )
    nav = _nav(t, (HISTORY, client_id), offset, shown, HISTORY_PAGE, more)
    if nav:
        rows.append(nav)
    await flows.answer(update)
    await show(update, body, InlineKeyboardMarkup(rows) if rows else None)


def _icons() -> dict[str, Any]:
    from bot.handlers.complaints import SEVERITY_ICONS
    from bot.handlers.interactions import KIND_ICONS, OUTCOME_ICONS

    return {"kind": KIND_ICONS, "outcome": OUTCOME_ICONS, "severity": SEVERITY_ICONS}


# ---- /audit ----------------------------------------------------------------------------------


async def audit_command(update: Update, context: CRMContext) -> None:
    """/audit ID — the client's audit trail, for supervisors and administrators."""
    if context.me.role == Role.MANAGER:
        await send(update, context.t("access.supervisors_only"))
        return
    client_id = parse_client_id(" ".join(context.args or []))
    if client_id is None:
        await send(update, context.t("audit.usage"))
        return
    await _show_audit(update, context, client_id, 0)


async def on_audit_page(update: Update, context: CRMContext) -> None:
    args = _page_args(update)
    if args is None or context.me.role == Role.MANAGER:
        await flows.answer(update, context.t.text("errors.stale"), alert=True)
        return
    await _show_audit(update, context, *args)


def _value(t: Translator, tz: str, field: str, value: object) -> str:
    """An audited value as a person reads it."""
    if value is None or value == "":
        return "—"
    if field in ENUM_FIELDS and isinstance(value, str):
        return t.text(f"{ENUM_FIELDS[field]}.{value}")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value)
    if _ISO_MOMENT.match(text):
        try:
            return format_moment(datetime.fromisoformat(text), t.lang, tz)
        except ValueError:
            pass
    if _ISO_DAY.match(text):
        try:
            return format_day(date.fromisoformat(text), t.lang)
        except ValueError:
            pass
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


def _staff_ids(entries: list[history_repo.AuditEntry]) -> set[int]:
    ids: set[int] = set()
    for entry in entries:
        for side in (entry.row.before or {}, entry.row.after or {}):
            for field in STAFF_FIELDS & side.keys():
                raw = side[field]
                ids.update(
                    v for v in (raw if isinstance(raw, list) else [raw]) if isinstance(v, int)
                )
    return ids


async def _show_audit(update: Update, context: CRMContext, client_id: int, offset: int) -> None:
    client = await _client(update, context, client_id)
    if client is None:
        return
    entries, more = await history_repo.audit_trail(
        context.session, client_id=client_id, limit=AUDIT_PAGE, offset=offset
    )
    t, tz = context.t, context.tz
    names = await history_repo.staff_names(context.session, ids=_staff_ids(entries))

    def value(field: str, raw: object) -> str:
        if field in STAFF_FIELDS and raw is not None:
            people = raw if isinstance(raw, list) else [raw]
            return ", ".join(names.get(p, f"#{p}") for p in people)  # type: ignore[call-overload]
        return _value(t, tz, field, raw)

    known = catalog(context.lang)

    def label(key: str, fallback: str) -> str:
        """A catalogue text, or the raw word for actions other capabilities may audit."""
        return t.text(key) if key in known else fallback

    def page(chunk: list[Any]) -> str:
        return render(
            "audit",
            context.lang,
            client=client,
            entries=chunk,
            offset=offset,
            tz=tz,
            value=value,
            fields=AUDIT_FIELDS,
            label=label,
        )

    body, shown = _fit(page, entries)
    nav = _nav(t, (AUDIT, client_id), offset, shown, AUDIT_PAGE, more or shown < len(entries))
    await flows.answer(update)
    await show(update, body, InlineKeyboardMarkup([nav]) if nav else None)


# ---- /today ----------------------------------------------------------------------------------


async def today_command(update: Update, context: CRMContext) -> None:
    """/today — my next steps due today or overdue."""
    await _show_today(update, context, 0)


async def on_today_page(update: Update, context: CRMContext) -> None:
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    offset = int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else 0
    await _show_today(update, context, offset)


async def _show_today(update: Update, context: CRMContext, offset: int) -> None:
    today = context.services.today(context.tz)
    steps, total = await interactions_repo.due_steps(
        context.session,
        staff_id=context.me.id,
        scope=context.scope,
        until=today,
        limit=TODAY_PAGE,
        offset=offset,
    )
    t = context.t
    numbered = list(enumerate(steps, start=offset + 1))

    def page(chunk: list[Any]) -> str:
        return render("today", context.lang, steps=chunk, total=total, today=today)

    body, shown = _fit(page, numbered)
    rows = [
        [
            InlineKeyboardButton(
                t.text("due_steps.log_button", n=n, client=_short(s.client_name)),
                callback_data=callbacks.pack("lg", "fu", s.interaction_id),
            ),
            InlineKeyboardButton(
                t.text("due_steps.move_button", n=n),
                callback_data=callbacks.pack(TODAY, "mv", s.interaction_id),
            ),
        ]
        for n, s in numbered[:shown]
    ]
    nav = _nav(t, (TODAY,), offset, shown, TODAY_PAGE, offset + shown < total)
    if nav:
        rows.append(nav)
    await flows.answer(update)
    await show(update, body, InlineKeyboardMarkup(rows) if rows else None)


def _short(name: str, limit: int = 24) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


# ---- moving a next step's date: a one-question flow -------------------------------------------


async def move_entry(update: Update, context: CRMContext) -> object:
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    found = None
    if len(parts) == 3 and parts[2].isdigit():
        found = await interactions_repo.get_in_scope(
            context.session, interaction_id=int(parts[2]), scope=context.scope
        )
    if found is None or found[0].next_step_done_at is not None or not found[0].next_step_due:
        await flows.answer(update, context.t.text("due_steps.gone"), alert=True)
        return None
    row, client = found
    await flows.start(
        update,
        context,
        "move",
        id=row.id,
        client=client.name,
        client_id=client.id,
        step=None,
        what=row.next_step,
        was=row.next_step_due.isoformat(),  # type: ignore[union-attr]
    )
    return await _ask_move(update, context, new=True)


async def _ask_move(
    update: Update, context: CRMContext, *, notice: str | None = None, new: bool = False
) -> object:
    current = flows.draft(context)
    today = context.services.today(context.tz)
    rows = flows.due_buttons(current, today, context.t)
    rows.append([flows.cancel_button(current, context.t)])
    body = render(
        "move_prompt",
        context.lang,
        d=current,
        was=date.fromisoformat(current["was"]),
        notice=Markup(notice) if notice else None,
    )
    if new or update.callback_query is None:
        await flows.answer(update)
        await send(update, body, InlineKeyboardMarkup(rows))
    else:
        await flows.reply(update, body, InlineKeyboardMarkup(rows))
    return MOVE


async def on_move_button(update: Update, context: CRMContext, value: str) -> object:
    due = flows.due_from_button(value, context.services.today(context.tz))
    if due is None:
        return await _ask_move(update, context, notice=context.t("due.error_past", text=""))
    flows.draft(context)["due"] = due.isoformat()
    return await save_move(update, context)


async def on_move_text(update: Update, context: CRMContext) -> object:
    message = update.effective_message
    text = (message.text or "").strip() if message else ""
    due, problem = flows.read_date(text, context.services.today(context.tz), context.t)
    if due is None:
        return await _ask_move(update, context, notice=problem)
    flows.draft(context)["due"] = due.isoformat()
    return await save_move(update, context)


@flows.saver("move")
async def save_move(update: Update, context: CRMContext) -> object:
    current = flows.draft(context)
    me, now = context.me, context.services.now()
    due = date.fromisoformat(current["due"])

    async def work(session: Any) -> bool:
        found = await interactions_repo.get_in_scope(
            session, interaction_id=current["id"], scope=context.scope
        )
        if found is None or found[0].next_step_done_at is not None:
            return False
        await interactions_service.change(
            session, row=found[0], actor_id=me.id, now=now, next_step_due=due
        )
        return True

    moved = await flows.save(update, context, work)
    if moved is flows.FAILED:
        return flows.RETRY
    flows.finish(context)
    t = context.t
    if not moved:
        await flows.reply(update, t("due_steps.gone"))
        return flows.END
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.text("due_steps.list_button"), callback_data=callbacks.pack(TODAY, 0)
                )
            ]
        ]
    )
    await flows.reply(update, render("move_done", context.lang, d=current, due=due), keyboard)
    return flows.END


flows.entry(CallbackQueryHandler(flows.step(move_entry), pattern=rf"^{TODAY}:mv:"))
flows.on_button(MOVE, "d", on_move_button)
flows.on_text(MOVE, on_move_text)


def register(app: Application) -> None:  # type: ignore[type-arg]
    flows.install(app)
    app.add_handler(CommandHandler("history", history_command))
    app.add_handler(CommandHandler("audit", audit_command))
    app.add_handler(CommandHandler("today", today_command))
    app.add_handler(CallbackQueryHandler(on_history_page, pattern=rf"^{HISTORY}:"))
    app.add_handler(CallbackQueryHandler(on_audit_page, pattern=rf"^{AUDIT}:"))
    app.add_handler(CallbackQueryHandler(on_today_page, pattern=rf"^{TODAY}:\d+$"))
