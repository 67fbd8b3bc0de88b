"""Start, help, language, cancel, and the per-role command menu."""

from __future__ import annotations

import contextlib
from functools import lru_cache

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from bot.domain import Role
from bot.i18n import LANGUAGES, Translator
from bot.menu import MenuCommand
from bot.messaging import send
from bot.render import render
from bot.runtime import CRMContext, StaffInfo
from db.models import Staff
from db.repositories import staff as staff_repo

MENU = [
    MenuCommand("lang", order=90),
    MenuCommand("cancel", order=91),
    MenuCommand("help", order=99),
]


def commands_for(role: Role) -> list[str]:
    from bot.handlers import menu_for  # the package imports this module while discovering

    return menu_for(role)


async def set_menu(context: CRMContext, chat_id: int) -> None:
    """Set this chat's command menu for the user's role and language."""
    t = Translator(context.lang)
    commands = [BotCommand(name, t.text(f"menu.{name}")) for name in commands_for(context.me.role)]
    # A menu is a convenience; never fail the user's request over it.
    with contextlib.suppress(TelegramError):
        await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))


async def start(update: Update, context: CRMContext) -> None:
    """Greet the user with what they can do in their role."""
    me = context.me
    await send(update, render("start", context.lang, me=me, commands=commands_for(me.role)))
    if update.effective_chat:
        await set_menu(context, update.effective_chat.id)


@lru_cache(maxsize=64)
def role_text(template: str, lang: str, role: Role) -> str:
    """/start and /help depend only on the role and the language: rendered once each."""
    return render(template, lang, commands=commands_for(role))


async def help_command(update: Update, context: CRMContext) -> None:
    """List the commands of the user's role."""
    await send(update, role_text("help", context.lang, context.me.role))


async def lang(update: Update, context: CRMContext) -> None:
    """Switch the interface language for this user."""
    choice = (context.args or [""])[0].lower()
    if choice not in LANGUAGES:
        await send(update, context.t("lang.usage"))
        return
    me = await context.session.get(Staff, context.me.id)
    assert me is not None
    await staff_repo.update(
        context.session, staff=me, actor="staff", actor_staff_id=me.id, language=choice
    )
    await context.commit()
    context.services.staff.forget(me.telegram_id)
    context.staff = StaffInfo.of(me)
    await send(update, context.t("lang.set"))
    if update.effective_chat:
        await set_menu(context, update.effective_chat.id)


async def cancel(update: Update, context: CRMContext) -> None:
    """Leave whatever flow is in progress (flows register their own /cancel first)."""
    await send(update, context.t("cancel.nothing"))


async def set_default_menus(app: Application) -> None:  # type: ignore[type-arg]
    """Strangers see only /start; staff get their role's menu when they first write."""
    for code in LANGUAGES:
        t = Translator(code)
        await app.bot.set_my_commands(
            [BotCommand("start", t.text("menu.start")), BotCommand("help", t.text("menu.help"))],
            language_code=code,
        )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(CommandHandler("lang", lang))
    app.add_handler(CommandHandler("cancel", cancel), group=10)
