"""Logging an interaction: the guided flow, the one-line /log, the outcome after a quick log."""

from __future__ import annotations

from datetime import date
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import callbacks, flows
from bot.dates import DateError, split_trailing_date
from bot.domain import InteractionKind, Outcome
from bot.handlers.corrections import correction_buttons
from bot.handlers.lookup import card_buttons, parse_client_id
from bot.i18n import Translator
from bot.menu import MenuCommand
from bot.messaging import send, show
from bot.render import render
from bot.runtime import CRMContext
from bot.services import interactions as service
from bot.services.card import Card
from db.models import Client, Interaction
from db.repositories import clients as clients_repo
from db.repositories import interactions as interactions_repo

MENU = [MenuCommand("log", order=20)]
PREFIX = "lg"
KIND, OUTCOME, TEXT, NEXT, DUE = "log.kind", "log.outcome", "log.text", "log.next", "log.due"
KIND_ICONS = {
    InteractionKind.CALL: "📞",
    InteractionKind.MEETING: "🤝",
    InteractionKind.EMAIL: "✉️",
    InteractionKind.MESSAGE: "💬",
    InteractionKind.VISIT: "🚗",
    InteractionKind.NOTE: "📝",
}
OUTCOME_ICONS = {
    Outcome.POSITIVE: "👍",
    Outcome.NEUTRAL: "😐",
    Outcome.NEGATIVE: "👎",
    Outcome.NO_ANSWER: "📵",
}


@card_buttons(order=10)
def _card_row(card: Card, t: Translator) -> list[InlineKeyboardButton]:
    client_id = card.client.id
    return [
        InlineKeyboardButton(
            t.text("log.card_button"), callback_data=callbacks.pack(PREFIX, "new", client_id)
        ),
        InlineKeyboardButton(
            t.text("complaint.card_button"), callback_data=callbacks.pack("cp", "new", client_id)
        ),
    ]


# ---- asking ----------------------------------------------------------------------------------


def _next_state(current: dict[str, Any]) -> str | None:
    """The first thing the draft still lacks; None when it can be saved."""
    if not current.get("kind"):
        return KIND
    quick = current.get("quick")
    if not quick and "outcome" not in current and current["kind"] != InteractionKind.NOTE:
        return OUTCOME
    if "text" not in current:
        return TEXT
    if "step" not in current:
        return NEXT
    if current["step"] and not current.get("due"):
        return DUE
    return None


def _keyboard(state: str, current: dict[str, Any], context: CRMContext) -> InlineKeyboardMarkup:
    t = context.t
    rows: list[list[InlineKeyboardButton]] = []
    if state == KIND:
        kinds = [
            flows.button(current, f"{KIND_ICONS[k]} {t.text('kind.' + k).capitalize()}", "k", k)
            for k in InteractionKind
        ]
        rows = [kinds[:3], kinds[3:]]
    elif state == OUTCOME:
        outcomes = [
            flows.button(current, f"{OUTCOME_ICONS[o]} {t.text('outcome.' + o)}", "o", o)
            for o in Outcome
        ]
        rows = [outcomes[:2], outcomes[2:]]
    elif state == TEXT and current.get("outcome") == Outcome.NO_ANSWER:
        rows = [[flows.button(current, t.text("log.no_comment"), "skip")]]
    elif state == NEXT:
        rows = [[flows.button(current, t.text("log.no_next"), "nn")]]
    elif state == DUE:
        rows = flows.due_buttons(current, context.services.today(context.tz), t)
    rows.append([flows.cancel_button(current, t)])
    return InlineKeyboardMarkup(rows)


async def ask(
    update: Update, context: CRMContext, *, notice: str | None = None, new: bool = False
) -> object:
    """Ask for what the draft lacks (or save it when complete); returns the next state."""
    current = flows.draft(context)
    state = _next_state(current)
    if state is None:
        return await save_log(update, context)
    body = render(
        "log_step",
        context.lang,
        d=current,
        ask=state,
        notice=notice,
        limit=service.TEXT_MAX,
        kind_icon=KIND_ICONS.get(current.get("kind")),  # type: ignore[call-overload]
        outcome_icon=OUTCOME_ICONS.get(current.get("outcome")),  # type: ignore[call-overload]
        due=flows.day_label(date.fromisoformat(current["due"]), context.lang)
        if current.get("due")
        else None,
    )
    keyboard = _keyboard(state, current, context)
    if new or update.callback_query is None:
        await flows.answer(update)
        await send(update, body, keyboard)
    else:
        await flows.reply(update, body, keyboard)
    return state


# ---- ways in -------------------------------------------------------------------------------


async def log_command(update: Update, context: CRMContext) -> object:
    """/log ID — the guided flow; /log ID KIND TEXT [→ STEP DATE] — all in one line."""
    message = update.effective_message
    raw = (message.text or "").split(maxsplit=1) if message else []
    t = context.t
    line = service.parse_log_line(raw[1] if len(raw) > 1 else "", _today(context))
    if line is None:
        await send(update, t("log.usage"))
        return None
    client = await flows.load(
        update,
        context,
        lambda session: clients_repo.get_in_scope(
            session, client_id=line.client_id, scope=context.scope
        ),
        [raw[1]],
    )
    if client is flows.FAILED:
        return None
    if client is None:
        await send(update, t("errors.not_found", ref=f"#{line.client_id}"))
        return None
    assert isinstance(client, Client)
    problem = flows.check_text(line.text, service.TEXT_MAX, t) if line.text else None
    if problem is None and line.step:
        problem = flows.check_text(line.step, service.STEP_MAX, t)
    if problem:
        await send(update, problem)
        return None
    fields: dict[str, Any] = {"client_id": client.id, "client": client.name}
    if line.kind:
        fields["kind"] = line.kind.value
    if line.outcome:
        fields["outcome"] = line.outcome.value
    if line.text:
        fields["text"] = line.text
    if line.kind and line.text:
        fields["quick"] = True  # one line said it all: no questions about outcome or next step
        fields["step"] = line.step or None
    elif line.step:
        fields["step"] = line.step
    if line.due and line.step:
        fields["due"] = line.due.isoformat()
    await flows.start(update, context, "log", **fields)
    notice = t(f"due.error_{line.due_error}", text="") if line.due_error else None
    return await ask(update, context, notice=notice)


async def log_from_card(update: Update, context: CRMContext) -> object:
    """The card's "Log interaction" button."""
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    client_id = parse_client_id(parts[2]) if len(parts) > 2 else None
    client = None
    if client_id is not None:
        client = await clients_repo.get_in_scope(
            context.session, client_id=client_id, scope=context.scope
        )
    if client is None:
        await flows.answer(update, context.t.text("errors.stale"), alert=True)
        return None
    await flows.start(update, context, "log", client_id=client.id, client=client.name)
    return await ask(update, context, new=True)


async def follow_up(update: Update, context: CRMContext) -> object:
    """/today's "Log follow-up": a new interaction that closes the step it follows."""
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    found = None
    if len(parts) > 2 and parts[2].isdigit():
        found = await interactions_repo.get_in_scope(
            context.session, interaction_id=int(parts[2]), scope=context.scope
        )
    if found is None or found[0].next_step_done_at is not None:
        await flows.answer(update, context.t.text("due_steps.gone"), alert=True)
        return None
    row, client = found
    await flows.start(
        update,
        context,
        "log",
        client_id=client.id,
        client=client.name,
        follow_up=row.id,
        follows=row.next_step,
    )
    return await ask(update, context, new=True)


# ---- the steps -----------------------------------------------------------------------------


async def on_kind(update: Update, context: CRMContext, value: str) -> object:
    return await flows.pick(update, context, value, choices=InteractionKind, field="kind", ask=ask)


async def on_outcome(update: Update, context: CRMContext, value: str) -> object:
    return await flows.pick(update, context, value, choices=Outcome, field="outcome", ask=ask)


async def early_text(update: Update, context: CRMContext) -> object:
    """Text typed while a button is expected: keep it as the interaction's text, ask again."""
    notice = context.t("log.text_kept")
    return await flows.take_text(
        update, context, limit=service.TEXT_MAX, ask=ask, append=True, notice=notice
    )


async def on_text(update: Update, context: CRMContext) -> object:
    return await flows.take_text(update, context, limit=service.TEXT_MAX, ask=ask)


async def on_skip_text(update: Update, context: CRMContext, _value: str) -> object:
    flows.draft(context)["text"] = ""
    return await ask(update, context)


async def on_next_step(update: Update, context: CRMContext) -> object:
    """The next step, typed; a date at its end ("… by Friday") answers the next question too."""
    text = flows.typed_text(update)
    t = context.t
    try:
        step, due = split_trailing_date(text, _today(context))
    except DateError as error:
        await send(update, flows.date_problem(error, t))
        return None
    problem = flows.check_text(step, service.STEP_MAX, t)
    if problem:
        await send(update, problem if step else t("log.step_empty"))
        return None
    current = flows.draft(context)
    current["step"] = step
    if due:
        current["due"] = due.isoformat()
    return await ask(update, context)


async def on_no_next(update: Update, context: CRMContext, _value: str) -> object:
    flows.draft(context)["step"] = None
    return await ask(update, context)


async def on_due_button(update: Update, context: CRMContext, value: str) -> object:
    due = flows.due_from_button(value, _today(context))
    if due is None:
        return await ask(update, context, notice=context.t("due.error_past", text=""))
    flows.draft(context)["due"] = due.isoformat()
    return await ask(update, context)


async def on_due_text(update: Update, context: CRMContext) -> object:
    due, problem = flows.read_date(flows.typed_text(update), _today(context), context.t)
    if due is None:
        return await ask(update, context, notice=problem)
    flows.draft(context)["due"] = due.isoformat()
    return await ask(update, context)


@flows.saver("log")
async def save_log(update: Update, context: CRMContext) -> object:
    """Store the interaction (one transaction), then say so."""
    current = flows.draft(context)
    today = _today(context)
    if current.get("due") and date.fromisoformat(current["due"]) < today:
        current.pop("due")  # a draft left overnight: the date it had is past now
        return await ask(update, context, notice=context.t("due.error_past", text=""))
    me = context.me
    now = context.services.now()

    async def work(session: Any) -> Interaction | None:
        client = await clients_repo.get_in_scope(
            session, client_id=current["client_id"], scope=context.scope
        )
        if client is None:
            return None
        return await service.log_interaction(
            session,
            author_id=me.id,
            client_id=client.id,  # type: ignore[arg-type]
            kind=InteractionKind(current["kind"]),
            outcome=Outcome(current["outcome"]) if current.get("outcome") else None,
            text=current.get("text") or "",
            step=current.get("step"),
            due=date.fromisoformat(current["due"]) if current.get("due") else None,
            now=now,
            follow_up_of=current.get("follow_up"),
        )

    row = await flows.save(update, context, work)
    if row is flows.FAILED:
        return flows.RETRY
    flows.finish(context)
    if row is None:
        text = render("flow_cancelled", context.lang, texts=flows.typed(current), gone=True)
        await flows.reply(update, text)
        return flows.END
    assert isinstance(row, Interaction)
    body = _saved_text(row, current["client"], context)
    await flows.reply(update, body, _saved_keyboard(row, context.t))
    return flows.END


def _saved_text(row: Interaction, client: str, context: CRMContext) -> str:
    return render(
        "log_saved",
        context.lang,
        row=row,
        client=client,
        kind_icon=KIND_ICONS[row.kind],
        outcome_icon=OUTCOME_ICONS.get(row.outcome) if row.outcome else None,  # type: ignore[arg-type]
    )


def _saved_keyboard(row: Interaction, t: Translator) -> InlineKeyboardMarkup:
    rows = []
    if row.outcome is None and row.kind != InteractionKind.NOTE:
        rows.append(
            [
                InlineKeyboardButton(
                    OUTCOME_ICONS[o], callback_data=callbacks.pack(PREFIX, "o", row.id, o.value)
                )
                for o in Outcome
            ]
        )
    rows.append(
        [
            *correction_buttons("i", row.id, t),  # type: ignore[arg-type]
            InlineKeyboardButton(
                t.text("log.open_card"), callback_data=callbacks.pack("card", row.client_id)
            ),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def on_set_outcome(update: Update, context: CRMContext) -> None:
    """An outcome tapped on the "saved" message of a quick log."""
    query = update.callback_query
    assert query is not None
    parts = callbacks.unpack(query.data)
    t = context.t
    found = None
    if len(parts) == 4 and parts[2].isdigit() and parts[3] in Outcome.__members__.values():
        found = await interactions_repo.get_in_scope(
            context.session, interaction_id=int(parts[2]), scope=context.scope
        )
    if found is None:
        await query.answer(t.text("errors.stale"), show_alert=True)
        return
    row, client = found
    now = context.services.now()
    try:
        service.check_editable(row, staff_id=context.me.id, now=now)
    except service.EditRefused as refused:
        await query.answer(t.text(f"fix.refused_{refused.reason}"), show_alert=True)
        return
    await service.change(
        context.session, row=row, actor_id=context.me.id, now=now, outcome=Outcome(parts[3])
    )
    await context.commit()
    await query.answer(t.text("log.outcome_set"))
    await show(update, _saved_text(row, client.name, context), _saved_keyboard(row, t))


def _today(context: CRMContext) -> date:
    return context.services.today(context.tz)


flows.entry(CommandHandler("log", flows.step(log_command)))
flows.entry(CallbackQueryHandler(flows.step(log_from_card), pattern=rf"^{PREFIX}:new:"))
flows.entry(CallbackQueryHandler(flows.step(follow_up), pattern=rf"^{PREFIX}:fu:"))
flows.on_button(KIND, "k", on_kind)
flows.on_text(KIND, early_text)
flows.on_button(OUTCOME, "o", on_outcome)
flows.on_text(OUTCOME, early_text)
flows.on_text(TEXT, on_text)
flows.on_button(TEXT, "skip", on_skip_text)
flows.on_text(NEXT, on_next_step)
flows.on_button(NEXT, "nn", on_no_next)
flows.on_button(DUE, "d", on_due_button)
flows.on_text(DUE, on_due_text)


def register(app: Application) -> None:  # type: ignore[type-arg]
    flows.install(app)
    app.add_handler(CallbackQueryHandler(on_set_outcome, pattern=rf"^{PREFIX}:o:"))
