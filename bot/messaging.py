"""Sending what the handlers render, within Telegram's rules."""

from __future__ import annotations

import html
import re

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.render import MAX_MESSAGE

_TAG = re.compile(r"<[^>]+>")


def plain(html_text: str) -> str:
    """What Telegram will display for our HTML: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", html_text))


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut a long message at line breaks into parts Telegram accepts.

    Templates open and close tags on one line, so a cut between lines never splits a tag.
    """
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single monster line: cut it on a space if possible
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return [p for p in parts if p.strip()]


async def send(
    update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Send a new message (several when long; the keyboard goes on the last)."""
    chat = update.effective_chat
    if chat is None:
        return None
    parts = split_message(text)
    last: Message | None = None
    for index, part in enumerate(parts):
        markup = keyboard if index == len(parts) - 1 else None
        last = await chat.send_message(
            part, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
        )
    return last


def _same_markup(message: Message, keyboard: InlineKeyboardMarkup | None) -> bool:
    current = message.reply_markup
    if not current or not current.inline_keyboard:
        return keyboard is None or not keyboard.inline_keyboard
    return keyboard is not None and current.to_dict() == keyboard.to_dict()


async def show(
    update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Answer in place: edit the message a button was pressed on, or send a new one."""
    query = update.callback_query
    message = query.message if query else None
    if not isinstance(message, Message) or len(text) > MAX_MESSAGE or message.text is None:
        return await send(update, text, keyboard)
    if message.text == plain(text) and _same_markup(message, keyboard):
        return message  # Telegram refuses edits that change nothing; do not even ask.
    try:
        edited = await message.edit_text(
            text, parse_mode=ParseMode.HTML, reply_markup=keyboard, disable_web_page_preview=True
        )
    except BadRequest as error:
        if "not modified" in str(error).lower():
            return message
        raise
    return edited if isinstance(edited, Message) else message
