"""Small factories for columns the models share."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow

# Deterministic constraint names: PostgreSQL needs them unique per table and Alembic's SQLite batch
# mode needs them named at all.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def enum_type(enum: type[StrEnum], name: str | None = None) -> SAEnum:
    """A VARCHAR + CHECK column storing the enum's value (not its name), portable across engines.

    `name` names the CHECK constraint; needed when one table has two columns of the same enum.
    """
    return SAEnum(
        enum,
        native_enum=False,
        create_constraint=True,
        values_callable=lambda members: [m.value for m in members],
        length=max(len(m.value) for m in enum),
        validate_strings=True,
        name=name or enum.__name__.lower(),
    )


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def updated_at_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )
