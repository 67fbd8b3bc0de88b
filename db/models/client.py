"""Clients and what the analytics computed about them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from bot.domain import ClientStatus, ClientType, RiskLevel, SegmentStrategy, Strategy
from db.models.columns import created_at_field, enum_type, updated_at_field
from db.types import Money, UTCDateTime


class ClientBase(SQLModel):
    name: str = Field(max_length=300)
    company: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=20, index=True)  # E.164
    email: str | None = Field(default=None, max_length=254, index=True)  # lower-cased
    tax_id: str | None = Field(default=None, max_length=20, index=True)
    external_id: str | None = Field(default=None, max_length=100, unique=True, index=True)
    owner_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    referred_by_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    status: ClientStatus = Field(default=ClientStatus.ACTIVE, sa_type=enum_type(ClientStatus))


class Client(ClientBase, table=True):
    __table_args__ = (Index("ix_client_owner_status", "owner_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)

    client_type: ClientType | None = Field(default=None, sa_type=enum_type(ClientType), index=True)
    strategy: Strategy | None = Field(default=None, sa_type=enum_type(Strategy), index=True)
    segment_strategy: SegmentStrategy | None = Field(
        default=None, sa_type=enum_type(SegmentStrategy)
    )
    classified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    classification_reasons: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    p_alive: float | None = None

    strategy_override: Strategy | None = Field(
        default=None, sa_type=enum_type(Strategy, name="strategy_override")
    )
    override_reason: str | None = Field(default=None, max_length=500)
    override_by_id: int | None = Field(default=None, foreign_key="staff.id")
    override_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    risk_score: int | None = None
    risk_level: RiskLevel | None = Field(default=None, sa_type=enum_type(RiskLevel), index=True)
    risk_reasons: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    value_at_risk: Decimal | None = Field(default=None, sa_type=Money)
    risk_computed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    @property
    def effective_strategy(self) -> Strategy | None:
        """A manual override wins over the computed strategy until it is removed."""
        return self.strategy_override or self.strategy


class ClientCreate(ClientBase):
    pass
