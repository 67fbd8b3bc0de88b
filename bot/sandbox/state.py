"""Data model of the fake Bot API: files, messages, chats, callback queries, events, requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from .formatting import entities_to_html

__all__ = [
    "BotEvent",
    "Button",
    "CallbackAnswer",
    "CallbackQuery",
    "ChatMessage",
    "ChatState",
    "EventKind",
    "FileKind",
    "MessageKind",
    "RecordedRequest",
    "Revision",
    "StoredFile",
    "update_chat_id",
]

JSONDict = dict[str, Any]

EventKind = Literal["message", "edit", "delete", "callback_answer", "chat_action", "error"]
MessageKind = Literal["text", "photo", "document", "contact"]
FileKind = Literal["photo", "document"]


@dataclass(slots=True)
class StoredFile:
    """A file known to the server: uploaded by the bot or by a user."""

    file_id: str
    file_unique_id: str
    kind: FileKind
    data: bytes
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    url: str | None = None

    @property
    def size(self) -> int:
        """Size of the content in bytes."""
        return len(self.data)

    def text(self, encoding: str = "utf-8") -> str:
        """Decode the content, e.g. for CSV reports."""
        return self.data.decode(encoding)

    def to_api(self) -> JSONDict:
        """Return the Document / PhotoSize JSON object."""
        data: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.kind == "photo":
            data["width"] = self.width
            data["height"] = self.height
        else:
            if self.filename:
                data["file_name"] = self.filename
            if self.mime_type:
                data["mime_type"] = self.mime_type
        return data


class Button(NamedTuple):
    """An inline button: its text and callback_data (or url for link buttons)."""

    text: str
    data: str | None


@dataclass(frozen=True, slots=True)
class Revision:
    """A previous state of an edited message."""

    text: str
    raw: str
    parse_mode: str | None
    entities: tuple[JSONDict, ...]
    reply_markup: JSONDict | None
    date: int


@dataclass(eq=False, slots=True)
class ChatMessage:
    """A message in a chat transcript, sent by the bot (``outgoing``) or by a user."""

    chat: JSONDict
    message_id: int
    date: int
    sender: JSONDict
    outgoing: bool
    kind: MessageKind = "text"
    body: str = ""  # text or caption after markup parsing and trimming
    raw: str = ""  # text or caption exactly as sent
    parse_mode: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    reply_markup: JSONDict | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    contact: JSONDict | None = None
    reply_to: ChatMessage | None = None
    options: JSONDict = field(default_factory=dict)
    edit_date: int | None = None
    history: list[Revision] = field(default_factory=list)
    deleted: bool = False

    @property
    def chat_id(self) -> int:
        """Id of the chat the message belongs to."""
        return int(self.chat["id"])

    @property
    def text(self) -> str | None:
        """Plain text of a text message (markup stripped), None for media."""
        return self.body if self.kind == "text" else None

    @property
    def caption(self) -> str | None:
        """Plain caption of a media message, None for text messages or no caption."""
        return self.body if self.kind != "text" and self.body else None

    @property
    def content(self) -> str:
        """Plain text or caption, whichever the message has."""
        return self.body

    @property
    def html(self) -> str:
        """The markup as sent when parse_mode was HTML, otherwise HTML rebuilt from entities."""
        if (self.parse_mode or "").lower() == "html":
            return self.raw
        return entities_to_html(self.body, self.entities)

    @property
    def edited(self) -> bool:
        """Whether the bot edited the message."""
        return bool(self.history)

    @property
    def inline_keyboard(self) -> list[list[JSONDict]]:
        """Raw inline keyboard buttons (empty when there is none)."""
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            rows: list[list[JSONDict]] = self.reply_markup["inline_keyboard"]
            return rows
        return []

    @property
    def buttons(self) -> list[list[Button]]:
        """Inline keyboard as rows of (text, callback_data or url)."""
        return [
            [
                Button(
                    b["text"],
                    b.get("callback_data", b.get("url", b.get("copy_text", {}).get("text"))),
                )
                for b in row
            ]
            for row in self.inline_keyboard
        ]

    def button_texts(self) -> list[str]:
        """Texts of all inline buttons, row by row."""
        return [button.text for row in self.buttons for button in row]

    @property
    def keyboard(self) -> list[list[str]] | None:
        """Texts of the reply keyboard attached to this message, if any."""
        if not self.reply_markup or "keyboard" not in self.reply_markup:
            return None
        return [
            [b["text"] if isinstance(b, dict) else str(b) for b in row]
            for row in self.reply_markup["keyboard"]
        ]

    def find_button(self, text: str) -> tuple[int, int]:
        """Return (row, column) of the button with this text, or the only one containing it."""
        rows = self.buttons
        exact = [(r, c) for r, row in enumerate(rows) for c, b in enumerate(row) if b.text == text]
        if exact:
            return exact[0]
        needle = text.casefold()
        partial = [
            (r, c)
            for r, row in enumerate(rows)
            for c, b in enumerate(row)
            if needle in b.text.casefold()
        ]
        if len(partial) == 1:
            return partial[0]
        found = "ambiguous" if partial else "not found"
        raise AssertionError(
            f"button {text!r} {found} on message #{self.message_id}; buttons: {self.button_texts()}"
        )

    def snapshot(self) -> Revision:
        """Capture the current content, e.g. before an edit."""
        return Revision(
            text=self.body,
            raw=self.raw,
            parse_mode=self.parse_mode,
            entities=tuple(self.entities),
            reply_markup=self.reply_markup,
            date=self.edit_date or self.date,
        )

    def to_api(self, *, with_reply: bool = True) -> JSONDict:
        """Return the Message JSON object as the Bot API would."""
        data: JSONDict = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.kind == "text":
            data["text"] = self.body
            if self.entities:
                data["entities"] = self.entities
        elif self.body:
            data["caption"] = self.body
            if self.entities:
                data["caption_entities"] = self.entities
        if self.photo is not None:
            data["photo"] = [self.photo.to_api()]
        if self.document is not None:
            data["document"] = self.document.to_api()
        if self.contact is not None:
            data["contact"] = self.contact
        if self.options.get("protect_content"):
            data["has_protected_content"] = True
        if self.reply_to is not None and with_reply:
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        return data

    def render(self) -> str:
        """Human-readable form for transcripts and assertion messages."""
        who = "bot" if self.outgoing else "user"
        head = f"[{who} #{self.message_id}]"
        if self.kind == "photo" and self.photo is not None:
            head += f" <photo {self.photo.size} bytes>"
        elif self.kind == "document" and self.document is not None:
            head += f" <document {self.document.filename!r}, {self.document.size} bytes>"
        elif self.kind == "contact" and self.contact is not None:
            head += f" <contact {self.contact.get('phone_number')}>"
        if self.edited:
            head += " (edited)"
        if self.deleted:
            head += " (deleted)"
        lines = [f"{head} {self.body}".rstrip()]
        lines.extend("    " + " ".join(f"[{b.text}]" for b in row) for row in self.buttons)
        if self.keyboard:
            lines.extend("    " + " ".join(f"({text})" for text in row) for row in self.keyboard)
        return "\n".join(lines)

    def __repr__(self) -> str:
        who = "bot" if self.outgoing else "user"
        extra = f", buttons={self.button_texts()!r}" if self.reply_markup else ""
        flags = ", edited" if self.edited else ""
        flags += ", deleted" if self.deleted else ""
        return f"ChatMessage(#{self.message_id} {who} {self.kind} {self.body!r}{extra}{flags})"


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """The bot's answerCallbackQuery call for a pressed button."""

    query_id: str
    chat_id: int | None
    message_id: int | None
    data: str | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int
    time: float


@dataclass(frozen=True, slots=True)
class BotEvent:
    """Something the bot did (or failed to do) that a chat participant could observe."""

    kind: EventKind
    chat_id: int | None
    method: str
    time: float
    message: ChatMessage | None = None
    previous: Revision | None = None
    answer: CallbackAnswer | None = None
    action: str | None = None
    status: int | None = None
    description: str | None = None

    def describe(self) -> str:
        """One-line summary for logs and assertion messages."""
        if self.kind == "error":
            return f"{self.method} failed: {self.status} {self.description}"
        if self.kind == "callback_answer" and self.answer is not None:
            alert = " (alert)" if self.answer.show_alert else ""
            return f"answerCallbackQuery{alert}: {self.answer.text!r}"
        if self.kind == "chat_action":
            return f"chat action {self.action}"
        assert self.message is not None
        verb = {"message": "sent", "edit": "edited", "delete": "deleted"}[self.kind]
        return f"{verb} {self.message.render()}"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One HTTP call of the bot, for rate and throughput assertions."""

    method: str
    params: JSONDict
    time: float
    status: int
    description: str | None = None
    chat_id: int | None = None
    files: Mapping[str, tuple[str | None, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200


@dataclass(slots=True)
class ChatState:
    """Server-side state of one chat."""

    chat: JSONDict
    user: JSONDict | None = None
    messages: list[ChatMessage] = field(default_factory=list)
    by_id: dict[int, ChatMessage] = field(default_factory=dict)
    next_message_id: int = 1
    blocked: bool = False
    started: bool = True
    reply_keyboard: JSONDict | None = None

    @property
    def chat_id(self) -> int:
        """The chat id."""
        return int(self.chat["id"])

    def allocate_message_id(self) -> int:
        """Message ids are shared by both directions and grow per chat."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def add(self, message: ChatMessage) -> None:
        """Append a message to the transcript."""
        self.messages.append(message)
        self.by_id[message.message_id] = message


@dataclass(slots=True)
class CallbackQuery:
    query_id: str
    chat_id: int
    message_id: int
    data: str | None
    answer: CallbackAnswer | None = None


def update_chat_id(update: JSONDict) -> int | None:
    """Chat an update belongs to, found in its message, callback query or member change."""
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        holder = value.get("message", value) if "chat" not in value else value
        chat = holder.get("chat") if isinstance(holder, dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
    return None
