"""Menu entries that handler modules declare: which command, for which roles, in what order."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import Role

EVERYONE = frozenset(Role)
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class MenuCommand:
    """A command shown in the Telegram menu and in /help (texts: menu.<name>, help.<name>)."""

    name: str
    roles: frozenset[Role] = EVERYONE
    order: int = 50
