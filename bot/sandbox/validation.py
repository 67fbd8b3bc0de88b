"""Telegram's size limits, chat actions and the rules reply markup (keyboards) must follow."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .errors import bad_request

__all__ = [
    "CHAT_ACTIONS",
    "MAX_CALLBACK_ANSWER_LENGTH",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_COMMANDS",
    "MAX_DOWNLOAD_SIZE",
    "MAX_PHOTO_SIZE",
    "MAX_REQUEST_SIZE",
    "MAX_TEXT_LENGTH",
    "validate_reply_markup",
]

JSONDict = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_COMMANDS = 100
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
MAX_PHOTO_SIZE = 10 * 1024 * 1024
# Uploads up to 50 MB are allowed; the slack covers the multipart framing.
MAX_REQUEST_SIZE = 50 * 1024 * 1024 + 64 * 1024

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


# --------------------------------------------------------------------------------------------
# Keyboards
# --------------------------------------------------------------------------------------------

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _check_button_url(url: Any) -> None:
    if not isinstance(url, str) or not url:
        raise bad_request('can\'t parse inline keyboard button: Field "url" must be a String')
    candidate = url if "://" in url else f"http://{url}"
    parts = urlsplit(candidate)
    scheme = parts.scheme.lower()
    if scheme == "tg":
        return
    host = parts.hostname or ""
    # Telegram refuses hosts it can't resolve publicly, e.g. "localhost".
    if scheme not in ("http", "https") or "." not in host or host.endswith("."):
        raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _validate_inline_keyboard(rows: Any) -> None:
    shape_error = bad_request(
        'can\'t parse inline keyboard button: Field "inline_keyboard" of the '
        "InlineKeyboardMarkup should be an Array of Arrays"
    )
    if not isinstance(rows, list):
        raise shape_error
    count = 0
    for row in rows:
        if not isinstance(row, list):
            raise shape_error
        for button in row:
            count += 1
            if not isinstance(button, dict):
                raise bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not text.strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            actions = [key for key in _INLINE_ACTIONS if key in button]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if len(actions) > 1:
                raise bad_request(
                    "can't parse inline keyboard button: exactly one of the optional fields "
                    f"must be used, got {', '.join(actions)}"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str):
                    raise bad_request(
                        'can\'t parse inline keyboard button: Field "callback_data" must be '
                        "of type String"
                    )
                if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                _check_button_url(button["url"])
    if count > 100:
        raise bad_request("reply markup is too long")


def validate_reply_markup(markup: Any, *, inline_only: bool = False) -> JSONDict | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
        return markup
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'can\'t parse keyboard button: Field "keyboard" of the ReplyKeyboardMarkup '
                "should be an Array of Arrays"
            )
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise bad_request("can't parse keyboard button: text must be a String")
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")
