"""Request parameters: form-value coercion, uploaded files and typed, validating getters."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

__all__ = ["INT_RE", "ApiParams", "UploadedFile", "coerce_form_value"]

JSONDict = dict[str, Any]

_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "from_chat_id",
        "reply_to_message_id",
        "cache_time",
        "message_thread_id",
        "user_id",
        "max_connections",
        "until_date",
    }
)
_FLOAT_PARAMS = frozenset({"timeout"})
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_content_type_detection",
        "show_caption_above_media",
        "allow_paid_broadcast",
        "for_channels",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "menu_button",
        "message_ids",
        "rights",
    }
)

INT_RE = re.compile(r"-?\d+")


def coerce_form_value(name: str, value: str) -> Any:
    # Form fields carry everything as strings; PTB JSON-encodes objects into them.
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if name in _INT_PARAMS and INT_RE.fullmatch(value):
        return int(value)
    if name in _FLOAT_PARAMS:
        try:
            return float(value)
        except ValueError:
            return value
    if name in _BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class ApiParams:
    """Decoded parameters of one Bot API call with typed, Telegram-style validating getters."""

    __slots__ = ("files", "method", "values")

    def __init__(
        self,
        method: str,
        values: JSONDict,
        files: Mapping[str, UploadedFile] | None = None,
    ) -> None:
        self.method = method
        self.values = values
        self.files: Mapping[str, UploadedFile] = files or {}

    def __contains__(self, name: str) -> bool:
        return name in self.values or name in self.files

    def get(self, name: str, default: Any = None) -> Any:
        """Raw decoded value."""
        return self.values.get(name, default)

    def get_str(self, name: str, *, required: str | None = None) -> str | None:
        """String parameter; ``required`` is the error detail when it is missing."""
        value = self.values.get(name)
        if value is None or value == "":
            if required is not None:
                raise bad_request(required)
            return None if value is None else ""
        if isinstance(value, (dict, list, bool)):
            raise bad_request(f"parameter {name} must be a String")
        return str(value)

    def get_int(self, name: str, *, required: str | None = None) -> int | None:
        """Integer parameter; accepts numeric strings like Telegram does."""
        value = self.values.get(name)
        if value is None or value == "":
            if required is not None:
                raise bad_request(required)
            return None
        if isinstance(value, bool):
            raise bad_request(f"parameter {name} must be an Integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and INT_RE.fullmatch(value.strip()):
            return int(value)
        raise bad_request(f"parameter {name} must be an Integer")

    def get_float(self, name: str, default: float = 0.0) -> float:
        """Numeric parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"parameter {name} must be a Number") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        """Boolean parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        return str(value).lower() in ("true", "1")

    def get_json(self, name: str, *, error: str | None = None) -> Any:
        """Object/array parameter, decoding a JSON string if needed."""
        value = self.values.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(error or f"can't parse {name} JSON object") from None
        return value

    def get_input_file(self, name: str) -> UploadedFile | str | None:
        """A file parameter: an uploaded part, a file_id/URL, or ``attach://`` reference."""
        if name in self.files:
            return self.files[name]
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            attached = self.files.get(value[len("attach://") :])
            if attached is None:
                raise bad_request(f"file {value} not found in the request")
            return attached
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise bad_request(f"parameter {name} must be a file_id, URL or upload")
        return value
