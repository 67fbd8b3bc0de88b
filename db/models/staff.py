"""Staff: the people the bot serves."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import BigInteger, Time
from sqlmodel import Field, SQLModel

from bot.domain import Role
from db.models.columns import created_at_field, enum_type, updated_at_field
from db.types import UTCDateTime

WORKING_DAYS = "1,2,3,4,5"


class StaffBase(SQLModel):
    telegram_id: int = Field(sa_type=BigInteger, unique=True, index=True)
    name: str = Field(max_length=200)
    role: Role = Field(sa_type=enum_type(Role), index=True)
    team: str | None = Field(default=None, max_length=100, index=True)
    # None means "inherit": from Telegram's language code, then CRM_LANGUAGE.
    language: str | None = Field(default=None, max_length=8)
    timezone: str | None = Field(default=None, max_length=64)
    alert_time: time | None = Field(default=None, sa_type=Time)
    alert_days: str = Field(default=WORKING_DAYS, max_length=20)
    alerts_enabled: bool = True
    active: bool = Field(default=True, index=True)


class Staff(StaffBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    blocked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class StaffCreate(StaffBase):
    pass
