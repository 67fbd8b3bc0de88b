"""Fault injection: failures, delays and flood control applied to matching requests."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .errors import BotApiError, RawFailure

__all__ = ["FAULT_EXEMPT", "Fault", "FloodControl"]

# getUpdates is excluded from catch-all faults: PTB backs off for seconds after a failed poll.
FAULT_EXEMPT = frozenset({"getupdates"})

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(slots=True)
class Fault:
    """An injected failure or delay for matching requests."""

    method: str | None
    chat_id: int | None = None
    status: int | None = None
    description: str | None = None
    retry_after: int | None = None
    times: int | None = 1
    delay: float = 0.0
    json_body: bool = True
    deliver: bool = False
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        """Whether the fault has fired as many times as requested."""
        return self.times is not None and self.hits >= self.times

    def matches(self, method_key: str, chat_id: int | None) -> bool:
        """Whether a request to ``method_key`` (lower case) for ``chat_id`` is affected."""
        if self.exhausted:
            return False
        if self.method is None:
            if method_key in FAULT_EXEMPT:
                return False
        elif self.method.lower() != method_key:
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def error(self) -> BotApiError | None:
        """The error the fault answers with, if any."""
        if self.status is None:
            return None
        description = self.description
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(self.status, "Error")
            if self.status == 429:
                description = f"Too Many Requests: retry after {self.retry_after or 1}"
        retry_after = self.retry_after
        if self.status == 429 and retry_after is None:
            retry_after = 1
        return BotApiError(self.status, description, retry_after=retry_after)

    def fail(self) -> None:
        """Raise the configured failure, if the fault has one."""
        error = self.error()
        if error is None:
            return
        if self.json_body:
            raise error
        raise RawFailure(error.status, error.description)


@dataclass(slots=True)
class FloodControl:
    global_per_second: int | None
    per_chat_per_second: int | None
    sent: deque[tuple[float, int]] = field(default_factory=deque)
