"""What part of the client base a staff member may see: the role scope, as SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import ColumnElement, bindparam, select, true
from sqlmodel import col

from bot.domain import Role
from db.models import Client, Staff


class StaffLike(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def role(self) -> Role: ...
    @property
    def team(self) -> str | None: ...


@dataclass(frozen=True)
class Scope:
    """Managers see their own clients, supervisors their team's (all without a team), admins all."""

    staff_id: int
    role: Role
    team: str | None = None

    @classmethod
    def of(cls, staff: StaffLike) -> Scope:
        assert staff.id is not None
        return cls(staff_id=staff.id, role=staff.role, team=staff.team)

    @property
    def sees_everything(self) -> bool:
        return self.role == Role.ADMIN or (self.role == Role.SUPERVISOR and not self.team)

    def clients(self) -> ColumnElement[bool]:
        """A WHERE clause on Client limiting rows to this scope."""
        return _clients(self.shape, self.staff_id, self.team)

    @property
    def shape(self) -> Literal["all", "team", "own"]:
        """Which kind of WHERE clause this scope needs; one prepared statement per shape."""
        if self.sees_everything:
            return "all"
        return "team" if self.role == Role.SUPERVISOR else "own"

    def params(self) -> dict[str, Any]:
        """Values for the bind parameters of `clients_bound(shape)`."""
        return {"scope_staff": self.staff_id, "scope_team": self.team}

    def staff(self) -> ColumnElement[bool]:
        """A WHERE clause on Staff limiting rows to the people this scope covers."""
        if self.sees_everything:
            return true()
        if self.role == Role.SUPERVISOR:
            return col(Staff.team) == self.team
        return col(Staff.id) == self.staff_id


def _clients(shape: str, staff_id: Any, team: Any) -> ColumnElement[bool]:
    if shape == "all":
        return true()
    if shape == "team":
        team_members = select(Staff.id).where(Staff.team == team)
        return col(Client.owner_id).in_(team_members)
    return col(Client.owner_id) == staff_id


def clients_bound(shape: str) -> ColumnElement[bool]:
    """The scope's WHERE clause on Client with the staff id and team as bind parameters, for
    statements built once and run many times with `Scope.params()`."""
    return _clients(shape, bindparam("scope_staff"), bindparam("scope_team"))
