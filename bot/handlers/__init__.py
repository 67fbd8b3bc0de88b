"""One module per capability. Each defines `register(app)` and may list `MENU` commands.

Modules are found here automatically, so a new capability is one new file; priorities between
handlers are set by handler groups, never by import order.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

from bot.domain import Role
from bot.menu import MenuCommand


@cache
def capability_modules() -> tuple[ModuleType, ...]:
    names = sorted(info.name for info in pkgutil.iter_modules(__path__))
    modules = (importlib.import_module(f"{__name__}.{name}") for name in names)
    return tuple(m for m in modules if hasattr(m, "register"))


def menu_for(role: Role) -> list[str]:
    """The commands a role sees, in menu order."""
    entries: list[MenuCommand] = [
        entry for module in capability_modules() for entry in getattr(module, "MENU", ())
    ]
    entries.sort(key=lambda e: (e.order, e.name))
    return [e.name for e in entries if role in e.roles]
