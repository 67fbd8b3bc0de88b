"""Correcting or deleting a logged interaction or complaint: its author, within 24 hours."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot import callbacks, flows
from bot.i18n import Translator
from bot.messaging import send
from bot.render import render
from bot.runtime import CRMContext
from bot.services import complaints as complaints_service
from bot.services import interactions as service
from db.models import Client, Complaint, Interaction
from db.repositories import complaints as complaints_repo
from db.repositories import interactions as interactions_repo

PREFIX = "fix"
EDIT = "fix.text"
ENTITIES = {"i": "interaction", "c": "complaint"}
LIMITS = {"i": service.TEXT_MAX, "c": complaints_service.TEXT_MAX}


def correction_buttons(entity: str, row_id: int, t: Translator) -> list[InlineKeyboardButton]:
    """ "Edit text" and "Delete" for an item the user may still correct."""
    return [
        InlineKeyboardButton(
            t.text("fix.edit_button"), callback_data=callbacks.pack(PREFIX, "e", entity, row_id)
        ),
        InlineKeyboardButton(
            t.text("fix.delete_button"), callback_data=callbacks.pack(PREFIX, "d", entity, row_id)
        ),
    ]


async def _load(
    context: CRMContext, entity: str, row_id: int
) -> tuple[Interaction | Complaint, Client] | None:
    if entity == "i":
        return await interactions_repo.get_in_scope(
            context.session, interaction_id=row_id, scope=context.scope
        )
    return await complaints_repo.get_in_scope(
        context.session, complaint_id=row_id, scope=context.scope
    )


async def _editable(
    update: Update, context: CRMContext, entity: str, row_id: int
) -> tuple[Interaction | Complaint, Client] | None:
    """The row if this user may still change it; otherwise they are told why and get None."""
    found = await _load(context, entity, row_id) if entity in ENTITIES else None
    reason = "gone" if found is None else None
    if found is not None:
        try:
            service.check_editable(found[0], staff_id=context.me.id, now=context.services.now())
        except service.EditRefused as refused:
            reason = refused.reason
    if reason is not None:
        await flows.answer(update, context.t.text(f"fix.refused_{reason}"), alert=True)
        return None
    return found


def _target(update: Update) -> tuple[str, int] | None:
    parts = callbacks.unpack(update.callback_query.data if update.callback_query else "")
    if len(parts) == 4 and parts[2] in ENTITIES and parts[3].isdigit():
        return parts[2], int(parts[3])
    return None


# ---- correcting the text: a one-step flow ---------------------------------------------------


async def edit_entry(update: Update, context: CRMContext) -> object:
    target = _target(update)
    found = await _editable(update, context, *target) if target else None
    if target is None or found is None:
        if target is None:
            await flows.answer(update, context.t.text("errors.stale"), alert=True)
        return None
    row, client = found
    entity, row_id = target
    current = await flows.start(
        update, context, "edit", entity=entity, id=row_id, client=client.name, client_id=client.id
    )
    await flows.answer(update)
    body = render(
        "edit_prompt",
        context.lang,
        entity=ENTITIES[entity],
        client=client.name,
        old=row.text,
        fits=flows.fits_one(row.text),
        limit=context.t.text("flow.chars", n=LIMITS[entity]),
    )
    keyboard = InlineKeyboardMarkup([[flows.cancel_button(current, context.t)]])
    await send(update, body, keyboard)
    return EDIT


async def on_new_text(update: Update, context: CRMContext) -> object:
    message = update.effective_message
    text = (message.text or "").strip() if message else ""
    current = flows.draft(context)
    problem = flows.check_text(text, LIMITS[current["entity"]], context.t)
    if problem:
        await send(update, problem)
        return None
    current["text"] = text
    return await save_edit(update, context)


@flows.saver("edit")
async def save_edit(update: Update, context: CRMContext) -> object:
    current = flows.draft(context)
    me, now = context.me, context.services.now()

    async def work(session: Any) -> str:
        found = await _load(context, current["entity"], current["id"])
        if found is None:
            return "gone"
        try:
            service.check_editable(found[0], staff_id=me.id, now=now)
        except service.EditRefused as refused:
            return refused.reason
        await service.change(session, row=found[0], actor_id=me.id, now=now, text=current["text"])
        return "ok"

    outcome = await flows.save(update, context, work)
    if outcome is flows.FAILED:
        return flows.RETRY
    flows.finish(context)
    if outcome != "ok":
        texts = flows.typed(current)
        await send(update, render("edit_refused", context.lang, reason=outcome, texts=texts))
        return flows.END
    await send(
        update,
        render(
            "edit_done",
            context.lang,
            entity=ENTITIES[current["entity"]],
            client=current["client"],
            text=current["text"],
        ),
    )
    return flows.END


# ---- deleting: a confirmation, no flow ---------------------------------------------------------


async def on_delete(update: Update, context: CRMContext) -> None:
    """Ask before deleting; the question is a new message so the item stays visible."""
    target = _target(update)
    found = await _editable(update, context, *target) if target else None
    if target is None or found is None:
        if target is None:
            await flows.answer(update, context.t.text("errors.stale"), alert=True)
        return
    row, client = found
    t = context.t
    await flows.answer(update)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.text("fix.delete_yes"), callback_data=callbacks.pack(PREFIX, "y", *target)
                ),
                InlineKeyboardButton(
                    t.text("fix.delete_no"), callback_data=callbacks.pack(PREFIX, "n", *target)
                ),
            ]
        ]
    )
    body = render(
        "delete_confirm", context.lang, entity=ENTITIES[target[0]], client=client.name, row=row
    )
    await send(update, body, keyboard)


async def on_delete_answer(update: Update, context: CRMContext) -> None:
    query = update.callback_query
    assert query is not None
    target = _target(update)
    t = context.t
    if target is None:
        await query.answer(t.text("errors.stale"), show_alert=True)
        return
    if callbacks.unpack(query.data)[1] == "n":
        await flows.reply(update, t("fix.kept"))
        return
    found = await _editable(update, context, *target)
    if found is None:
        return
    row, client = found
    await service.delete(
        context.session, row=row, actor_id=context.me.id, now=context.services.now()
    )
    await context.commit()
    await flows.reply(
        update, render("delete_done", context.lang, entity=ENTITIES[target[0]], client=client.name)
    )


flows.entry(CallbackQueryHandler(flows.step(edit_entry), pattern=rf"^{PREFIX}:e:"))
flows.on_text(EDIT, on_new_text)


def register(app: Application) -> None:  # type: ignore[type-arg]
    flows.install(app)
    app.add_handler(CallbackQueryHandler(on_delete, pattern=rf"^{PREFIX}:d:"))
    app.add_handler(CallbackQueryHandler(on_delete_answer, pattern=rf"^{PREFIX}:[yn]:"))
