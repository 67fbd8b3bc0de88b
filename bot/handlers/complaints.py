"""Complaints (рекламации): filing, the open list, the life cycle, satisfaction, escalation."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import callbacks, flows
from bot.config import Settings
from bot.domain import ComplaintCategory, ComplaintStatus, Severity
from bot.handlers.corrections import correction_buttons
from bot.i18n import Translator, pick_language
from bot.menu import MenuCommand
from bot.messaging import send, show
from bot.render import MAX_MESSAGE, render
from bot.runtime import CRMContext
from bot.services import complaints as service
from bot.services.interactions import can_edit
from db.models import Client, Complaint
from db.repositories import clients as clients_repo
from db.repositories import complaints as complaints_repo
from db.session import Database

log = logging.getLogger(__name__)

MENU = [MenuCommand("complaint", order=30), MenuCommand("complaints", order=31)]
PREFIX = "cp"
CATEGORY, SEVERITY, TEXT = "cp.category", "cp.severity", "cp.text"
RESOLVE, REJECT = "cp.resolve", "cp.reject"
PAGE_SIZE = 8
BUDGET = MAX_MESSAGE - 200
SEVERITY_ICONS = {
    Severity.LOW: "🟢",
    Severity.MEDIUM: "🟡",
    Severity.HIGH: "🟠",
    Severity.CRITICAL: "🔴",
}
RETRY_EVERY = timedelta(minutes=5)
RETRY_WITHIN = timedelta(days=7)
_COMMAND = re.compile(r"^\s*#?(\d{1,12})(?:\s+|$)(.*)$", re.DOTALL)


def _cb(*parts: object) -> str:
    return callbacks.pack(PREFIX, *parts)


# ---- filing: /complaint ID [TEXT] or the card's button -----------------------------------------


def _next_state(current: dict[str, Any]) -> str | None:
    if not current.get("category"):
        return CATEGORY
    if not current.get("severity"):
        return SEVERITY
    if not current.get("text"):
        return TEXT
    return None


def _keyboard(state: str, current: dict[str, Any], context: CRMContext) -> InlineKeyboardMarkup:
    t = context.t
    rows: list[list[InlineKeyboardButton]] = []
    if state == CATEGORY:
        options = [
            flows.button(current, t.text("category." + c).capitalize(), "c", c)
            for c in ComplaintCategory
        ]
        rows = [options[:3], options[3:]]
    elif state == SEVERITY:
        sla = context.services.settings.complaint_sla_hours
        options = [
            flows.button(
                current,
                t.text(
                    "complaint.severity_button",
                    icon=SEVERITY_ICONS[s],
                    severity=t.text("severity." + s).capitalize(),
                    hours=sla[s.value],
                ),
                "s",
                s,
            )
            for s in Severity
        ]
        rows = [options[:2], options[2:]]
    rows.append([flows.cancel_button(current, t)])
    return InlineKeyboardMarkup(rows)


async def ask(
    update: Update, context: CRMContext, *, notice: str | None = None, new: bool = False
) -> object:
    current = flows.draft(context)
    state = _next_state(current)
    if state is None:
        return await save_complaint(update, context)
    body = render(
        "complaint_step", context.lang, d=current, ask=state, notice=notice, limit=service.TEXT_MAX
    )
    keyboard = _keyboard(state, current, context)
    if new or update.callback_query is None:
        await flows.answer(update)
        await send(update, body, keyboard)
    else:
        await flows.reply(update, body, keyboard)
    return state


async def complaint_command(update: Update, context: CRMContext) -> object:
    """/complaint ID [TEXT]"""
    message = update.effective_message
    raw = (message.text or "").split(maxsplit=1) if message else []
    match = _COMMAND.match(raw[1]) if len(raw) > 1 else None
    t = context.t
    if match is None:
        await send(update, t("complaint.usage"))
        return None
    client_id, text = int(match[1]), match[2].strip()
    client = await flows.load(
        update,
        context,
        lambda session: clients_repo.get_in_scope(
            session, client_id=client_id, scope=context.scope
        ),
        [text],
    )
    if client is flows.FAILED:
        return None
    if client is None:
        await send(update, t("errors.not_found", ref=f"#{client_id}"))
        return None
    assert isinstance(client, Client)
    problem = flows.check_text(text, service.TEXT_MAX, t) if text else None
    if problem:
        await send(update, problem)
        return None
    fields: dict[str, Any] = {"client_id": client.id, "client": client.name}
    if text:
        fields["text"] = text
    await flows.start(update, context, "complaint", **fields)
    return await ask(update, context)


async def complaint_from_card(update: Update, context: CRMContext) -> object:
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    client = None
    if len(parts) > 2 and parts[2].isdigit():
        client = await clients_repo.get_in_scope(
            context.session, client_id=int(parts[2]), scope=context.scope
        )
    if client is None:
        await flows.answer(update, context.t.text("errors.stale"), alert=True)
        return None
    await flows.start(update, context, "complaint", client_id=client.id, client=client.name)
    return await ask(update, context, new=True)


async def on_category(update: Update, context: CRMContext, value: str) -> object:
    return await flows.pick(
        update, context, value, choices=ComplaintCategory, field="category", ask=ask
    )


async def on_severity(update: Update, context: CRMContext, value: str) -> object:
    return await flows.pick(update, context, value, choices=Severity, field="severity", ask=ask)


async def early_text(update: Update, context: CRMContext) -> object:
    """Typed while a button is expected: it is the complaint's text; keep it and ask again."""
    notice = context.t("complaint.text_kept")
    return await flows.take_text(
        update, context, limit=service.TEXT_MAX, ask=ask, append=True, notice=notice
    )


async def on_text(update: Update, context: CRMContext) -> object:
    return await flows.take_text(update, context, limit=service.TEXT_MAX, ask=ask)


@flows.saver("complaint")
async def save_complaint(update: Update, context: CRMContext) -> object:
    current = flows.draft(context)
    me, now = context.me, context.services.now()
    sla = context.services.settings.complaint_sla_hours

    async def work(session: Any) -> tuple[Complaint, Client] | None:
        client = await clients_repo.get_in_scope(
            session, client_id=current["client_id"], scope=context.scope
        )
        if client is None:
            return None
        row = await service.file_complaint(
            session,
            author_id=me.id,
            client_id=client.id,  # type: ignore[arg-type]
            category=ComplaintCategory(current["category"]),
            severity=Severity(current["severity"]),
            text=current["text"],
            now=now,
            sla_hours=sla,
        )
        return row, client

    saved = await flows.save(update, context, work)
    if saved is flows.FAILED:
        return flows.RETRY
    flows.finish(context)
    if saved is None:
        text = render("flow_cancelled", context.lang, texts=flows.typed(current), gone=True)
        await flows.reply(update, text)
        return flows.END
    assert isinstance(saved, tuple)
    row, client = saved
    escalation = None
    if row.severity == Severity.CRITICAL:
        escalation = await _escalate_now(context, row, client)
    body = render(
        "complaint_saved",
        context.lang,
        c=row,
        client=client.name,
        tz=context.tz,
        escalation=escalation,
        icon=SEVERITY_ICONS[row.severity],
    )
    t = context.t
    keyboard = InlineKeyboardMarkup(
        [
            correction_buttons("c", row.id, t),  # type: ignore[arg-type]
            [InlineKeyboardButton(t.text("complaint.all_button"), callback_data=_cb("p", 0))],
        ]
    )
    await flows.reply(update, body, keyboard)
    return flows.END


# ---- escalation of a critical complaint ---------------------------------------------------------


async def escalate(
    bot: Bot,
    session: Any,
    settings: Settings,
    *,
    row: Complaint,
    client: Client,
    author: str | None,
    now: Any,
) -> tuple[list[str], int]:
    """Push the complaint to the owner's supervisors (or the admins); (names reached, failures).

    Marks the complaint escalated in `session` when anyone was reached; the caller commits.
    """
    recipients = await complaints_repo.escalation_recipients(
        session, owner_id=client.owner_id or row.staff_id, exclude_id=row.staff_id
    )
    reached: list[tuple[int, str]] = []
    failures = 0
    for person in recipients:
        lang = pick_language(person.language, settings.language)
        tz = person.timezone or settings.timezone
        text = render("complaint_escalation", lang, c=row, client=client, author=author, tz=tz)
        t = Translator(lang)
        buttons = [
            InlineKeyboardButton(
                t.text("complaint.push_card"), callback_data=callbacks.pack("card", client.id)
            ),
            InlineKeyboardButton(t.text("complaint.push_open"), callback_data=_cb("vn", row.id)),
        ]
        try:
            await bot.send_message(
                person.telegram_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=InlineKeyboardMarkup([buttons]),
            )
        except TelegramError:
            log.warning("could not escalate complaint %s to staff %s", row.id, person.id)
            failures += 1
            continue
        reached.append((person.id, person.name))  # type: ignore[arg-type]
    if reached:
        await service.mark_escalated(
            session, row=row, now=now, notified=[person_id for person_id, _ in reached]
        )
    return [name for _, name in reached], failures


async def _escalate_now(context: CRMContext, row: Complaint, client: Client) -> dict[str, Any]:
    """Right after the complaint is committed; a failure here never loses the complaint."""
    try:
        names, _failures = await escalate(
            context.bot,
            context.session,
            context.services.settings,
            row=row,
            client=client,
            author=context.me.name,
            now=context.services.now(),
        )
        await context.commit()
    except Exception:
        log.exception("escalating complaint %s failed; the retry job will try again", row.id)
        return {"names": [], "failed": True}
    return {"names": names, "failed": not names}


async def retry_escalations(context: CRMContext) -> None:
    """Job: critical complaints whose supervisors could not be reached get another try."""
    services = context.application.services  # type: ignore[attr-defined]
    db: Database = services.db
    now = services.now()
    async with db.session() as session:
        pending = await complaints_repo.unescalated_critical(
            session, created_after=now - RETRY_WITHIN, created_before=now - timedelta(minutes=2)
        )
        for row, client, author in pending:
            await escalate(
                context.bot,
                session,
                services.settings,
                row=row,
                client=client,
                author=author,
                now=now,
            )


# ---- the open list and one complaint ---------------------------------------------------------


async def complaints_command(update: Update, context: CRMContext) -> None:
    """/complaints — open complaints in my scope, overdue first."""
    await _show_list(update, context, 0)


async def _show_list(update: Update, context: CRMContext, offset: int) -> None:
    rows, total = await complaints_repo.open_in_scope(
        context.session, scope=context.scope, limit=PAGE_SIZE, offset=offset
    )
    if not rows and offset:
        offset = 0
        rows, total = await complaints_repo.open_in_scope(
            context.session, scope=context.scope, limit=PAGE_SIZE
        )
    t = context.t
    now = context.services.now()

    def page(chunk: list[complaints_repo.OpenComplaint]) -> str:
        return render(
            "complaints_list",
            context.lang,
            rows=chunk,
            total=total,
            offset=offset,
            now=now,
            tz=context.tz,
            icons=SEVERITY_ICONS,
        )

    body = page(rows)
    while len(body) > BUDGET and len(rows) > 1:  # long names and texts: fewer per page
        rows = rows[:-1]
        body = page(rows)
    buttons = [
        [
            InlineKeyboardButton(
                t.text(
                    "complaints.button",
                    n=offset + i + 1,
                    icon="⏰" if r.complaint.due_at < now else SEVERITY_ICONS[r.complaint.severity],
                    client=_short(r.client_name),
                ),
                callback_data=_cb("v", r.complaint.id),
            )
        ]
        for i, r in enumerate(rows)
    ]
    nav = []
    if offset > 0:
        back = _cb("p", max(offset - PAGE_SIZE, 0))
        nav.append(InlineKeyboardButton(t.text("find.back"), callback_data=back))
    if offset + len(rows) < total:
        forward = _cb("p", offset + len(rows))
        nav.append(InlineKeyboardButton(t.text("find.more"), callback_data=forward))
    if nav:
        buttons.append(nav)
    await flows.answer(update)
    await show(update, body, InlineKeyboardMarkup(buttons) if buttons else None)


async def on_page(update: Update, context: CRMContext) -> None:
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    offset = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
    await _show_list(update, context, offset)


def _detail_keyboard(row: Complaint, context: CRMContext) -> InlineKeyboardMarkup:
    t = context.t
    rows: list[list[InlineKeyboardButton]] = []
    actions = []
    if row.status == ComplaintStatus.OPEN:
        actions.append(
            InlineKeyboardButton(t.text("complaint.take"), callback_data=_cb("take", row.id))
        )
    if row.status.is_open:
        actions.append(
            InlineKeyboardButton(t.text("complaint.resolve"), callback_data=_cb("res", row.id))
        )
        actions.append(
            InlineKeyboardButton(t.text("complaint.reject"), callback_data=_cb("rej", row.id))
        )
    if actions:
        rows.append(actions)
    if row.status == ComplaintStatus.RESOLVED:
        rows.append(_satisfaction_row(row))
    if can_edit(row, staff_id=context.me.id, now=context.services.now()):
        rows.append(correction_buttons("c", row.id, t))  # type: ignore[arg-type]
    rows.append(
        [
            InlineKeyboardButton(t.text("complaint.list_button"), callback_data=_cb("p", 0)),
            InlineKeyboardButton(
                t.text("log.open_card"), callback_data=callbacks.pack("card", row.client_id)
            ),
        ]
    )
    return InlineKeyboardMarkup(rows)


def _satisfaction_row(row: Complaint) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(
            f"{'✅' if row.satisfaction == n else ''}{n}", callback_data=_cb("sat", row.id, n)
        )
        for n in range(1, 6)
    ]


async def _load(
    update: Update, context: CRMContext, index: int = 2
) -> tuple[Complaint, Client] | None:
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    found = None
    if len(parts) > index and parts[index].isdigit():
        found = await complaints_repo.get_in_scope(
            context.session, complaint_id=int(parts[index]), scope=context.scope
        )
    if found is None:
        await flows.answer(update, context.t.text("complaint.gone"), alert=True)
    return found


async def _show_detail(
    update: Update, context: CRMContext, row: Complaint, client: Client, *, new: bool = False
) -> None:
    body = render(
        "complaint_detail",
        context.lang,
        c=row,
        client=client,
        now=context.services.now(),
        tz=context.tz,
        icons=SEVERITY_ICONS,
    )
    keyboard = _detail_keyboard(row, context)
    if new:
        await send(update, body, keyboard)
    else:
        await show(update, body, keyboard)


async def on_view(update: Update, context: CRMContext) -> None:
    found = await _load(update, context)
    if found is None:
        return
    await flows.answer(update)
    # From a list, open in place; from an escalation push ("vn"), keep the push, answer below.
    action = callbacks.unpack(update.callback_query.data)[1]  # type: ignore[union-attr]
    await _show_detail(update, context, *found, new=action == "vn")


async def on_take(update: Update, context: CRMContext) -> None:
    found = await _load(update, context)
    if found is None:
        return
    row, client = found
    try:
        await service.take(
            context.session, row=row, actor_id=context.me.id, now=context.services.now()
        )
    except service.StatusRefused:
        await flows.answer(update, context.t.text("complaint.status_changed"), alert=True)
    else:
        await context.commit()
        await flows.answer(update, context.t.text("complaint.taken"))
    await _show_detail(update, context, row, client)


async def on_satisfaction(update: Update, context: CRMContext) -> None:
    found = await _load(update, context)
    if found is None:
        return
    row, client = found
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    score = int(parts[3]) if len(parts) > 3 and parts[3] in ("1", "2", "3", "4", "5") else 0
    try:
        await service.rate(
            context.session,
            row=row,
            score=score,
            actor_id=context.me.id,
            now=context.services.now(),
        )
    except (service.StatusRefused, ValueError):
        await flows.answer(update, context.t.text("errors.stale"), alert=True)
        return
    await context.commit()
    await flows.answer(update, context.t.text("complaint.rated", score=score))
    await show(
        update,
        render("complaint_rated", context.lang, c=row, client=client),
        _after_close_keyboard(row, context),
    )


def _after_close_keyboard(row: Complaint, context: CRMContext) -> InlineKeyboardMarkup:
    t = context.t
    rows = []
    if row.status == ComplaintStatus.RESOLVED:
        rows.append(_satisfaction_row(row))
    rows.append([InlineKeyboardButton(t.text("complaint.list_button"), callback_data=_cb("p", 0))])
    return InlineKeyboardMarkup(rows)


# ---- resolving and rejecting: one typed answer each ---------------------------------------------


async def close_entry(update: Update, context: CRMContext) -> object:
    """ "Resolve" asks for the resolution, "Reject" for the reason."""
    found = await _load(update, context)
    if found is None:
        return None
    row, client = found
    if not row.status.is_open:
        await flows.answer(update, context.t.text("complaint.status_changed"), alert=True)
        return None
    kind = "resolve" if callbacks.unpack(update.callback_query.data)[1] == "res" else "reject"  # type: ignore[union-attr]
    current = await flows.start(
        update, context, kind, id=row.id, client=client.name, client_id=client.id
    )
    await flows.answer(update)
    body = render(
        "complaint_close_prompt",
        context.lang,
        kind=kind,
        c=row,
        client=client.name,
        limit=context.t.text("flow.chars", n=service.RESOLUTION_MAX),
    )
    await send(update, body, InlineKeyboardMarkup([[flows.cancel_button(current, context.t)]]))
    return RESOLVE if kind == "resolve" else REJECT


async def on_close_text(update: Update, context: CRMContext) -> object:
    text = flows.typed_text(update)
    problem = flows.check_text(text, service.RESOLUTION_MAX, context.t)
    if problem:
        await send(update, problem)
        return None
    flows.draft(context)["text"] = text
    return await save_close(update, context)


async def save_close(update: Update, context: CRMContext) -> object:
    current = flows.draft(context)
    me, now = context.me, context.services.now()
    status = ComplaintStatus.RESOLVED if current["flow"] == "resolve" else ComplaintStatus.REJECTED

    async def work(session: Any) -> Complaint | str:
        found = await complaints_repo.get_in_scope(
            session, complaint_id=current["id"], scope=context.scope
        )
        if found is None:
            return "gone"
        try:
            await service.close(
                session, row=found[0], status=status, text=current["text"], actor_id=me.id, now=now
            )
        except service.StatusRefused:
            return "closed"
        return found[0]

    result = await flows.save(update, context, work)
    if result is flows.FAILED:
        return flows.RETRY
    flows.finish(context)
    if isinstance(result, str):
        texts = flows.typed(current)
        await send(
            update, render("complaint_close_refused", context.lang, reason=result, texts=texts)
        )
        return flows.END
    assert isinstance(result, Complaint)
    body = render("complaint_closed", context.lang, c=result, client=current["client"])
    await send(update, body, _after_close_keyboard(result, context))
    return flows.END


flows.saver("resolve")(save_close)
flows.saver("reject")(save_close)


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


flows.entry(CommandHandler("complaint", flows.step(complaint_command)))
flows.entry(CallbackQueryHandler(flows.step(complaint_from_card), pattern=rf"^{PREFIX}:new:"))
flows.entry(CallbackQueryHandler(flows.step(close_entry), pattern=rf"^{PREFIX}:(res|rej):"))
flows.on_button(CATEGORY, "c", on_category)
flows.on_text(CATEGORY, early_text)
flows.on_button(SEVERITY, "s", on_severity)
flows.on_text(SEVERITY, early_text)
flows.on_text(TEXT, on_text)
flows.on_text(RESOLVE, on_close_text)
flows.on_text(REJECT, on_close_text)


def register(app: Application) -> None:  # type: ignore[type-arg]
    flows.install(app)
    app.add_handler(CommandHandler("complaints", complaints_command))
    app.add_handler(CallbackQueryHandler(on_page, pattern=rf"^{PREFIX}:p:"))
    app.add_handler(CallbackQueryHandler(on_view, pattern=rf"^{PREFIX}:vn?:"))
    app.add_handler(CallbackQueryHandler(on_take, pattern=rf"^{PREFIX}:take:"))
    app.add_handler(CallbackQueryHandler(on_satisfaction, pattern=rf"^{PREFIX}:sat:"))
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            retry_escalations, interval=RETRY_EVERY, first=RETRY_EVERY, name="retry_escalations"
        )
