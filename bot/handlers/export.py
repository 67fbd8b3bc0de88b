"""/export: the clients in the user's scope as a spreadsheet."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.ext import Application, CommandHandler

from bot.handlers.summary import resolve_segment  # the words /summary understands
from bot.menu import MenuCommand
from bot.messaging import send
from bot.runtime import CRMContext
from bot.services import export as service
from bot.services.summary import year_before

MENU = [MenuCommand("export", order=61)]


async def export_command(update: Update, context: CRMContext) -> None:
    """/export [segment] [csv|xlsx] — a document of the clients in scope with key figures."""
    args = [a for a in (context.args or []) if a]
    fmt = "xlsx"
    if args and args[-1].lower() in service.FORMATS:
        fmt = args.pop().lower()
    arg = " ".join(args).strip()[:100]
    narrow = await resolve_segment(context, arg) if arg else None
    if arg and narrow is None:
        await send(update, context.t("summary.unknown", arg=arg))
        return
    today = context.services.today(context.tz)
    result = await service.export(
        context.session,
        scope=context.scope,
        narrow=narrow,
        today=today,
        since=year_before(today),
        fmt=fmt,
        t=context.t,
    )
    chat = update.effective_chat
    assert chat is not None
    caption = context.t.text("export.caption", n=result.rows)
    await chat.send_document(InputFile(result.data, filename=result.filename), caption=caption)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("export", export_command))
