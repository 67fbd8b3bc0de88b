"""Loopback Telegram Bot API sandbox: a fake server, a user-side client and an app runner."""

from .bot_api import (
    ApiParams,
    BotApiError,
    BotEvent,
    Button,
    CallbackAnswer,
    ChatMessage,
    ChatState,
    FakeBotApi,
    Fault,
    RecordedRequest,
    Revision,
    StoredFile,
    entities_to_html,
    parse_formatted_text,
)
from .client import ChatClient, Reply, detect_entities, running_application, wait_until_idle

__all__ = [
    "ApiParams",
    "BotApiError",
    "BotEvent",
    "Button",
    "CallbackAnswer",
    "ChatClient",
    "ChatMessage",
    "ChatState",
    "FakeBotApi",
    "Fault",
    "RecordedRequest",
    "Reply",
    "Revision",
    "StoredFile",
    "detect_entities",
    "entities_to_html",
    "parse_formatted_text",
    "running_application",
    "wait_until_idle",
]
