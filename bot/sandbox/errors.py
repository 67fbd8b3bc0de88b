"""Error answers of the fake Bot API: JSON ``ok: false`` bodies and raw gateway pages."""

from __future__ import annotations

from typing import Any

__all__ = ["BotApiError", "RawFailure", "bad_request"]

JSONDict = dict[str, Any]


class BotApiError(Exception):
    """An error answer of the Bot API (``ok: false``) with its HTTP status."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def to_payload(self) -> JSONDict:
        """Return the JSON body Telegram would answer with."""
        payload: JSONDict = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        parameters: JSONDict = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            payload["parameters"] = parameters
        return payload


class RawFailure(Exception):
    """A failure answered with a non-JSON body, like an HTML page from a gateway."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    @property
    def body(self) -> str:
        title = f"{self.status} {self.description}"
        return (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )


def bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")
