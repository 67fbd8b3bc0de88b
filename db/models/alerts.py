"""Scheduled deliveries (the morning digest, the weekly summary): the ledger and alert memory."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.domain import RiskLevel
from db.models.columns import created_at_field, enum_type, updated_at_field
from db.types import UTCDateTime


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # claimed; the message may be on its way
    SENT = "sent"
    FAILED = "failed"  # a later run may claim it again (see bot.services.delivery)
    SKIPPED = "skipped"  # nothing new to say today
    BLOCKED = "blocked"  # the person blocked the bot


class DeliveryKind(StrEnum):
    """What a ledger row delivers; each kind is claimed once per person and day on its own."""

    DIGEST = "digest"  # the morning retention digest
    WEEKLY = "weekly"  # the supervisors' Monday summary


class AlertDelivery(SQLModel, table=True):
    """One row per person, day and kind: inserting it is the claim to send that message."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        # The exactly-once guarantee: a second claim for the same person, day and kind conflicts.
        UniqueConstraint("staff_id", "day", "kind", name="uq_alert_delivery_staff_id_day_kind"),
        Index("ix_alert_delivery_day_status", "day", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", ondelete="CASCADE")
    # The person's local date of the scheduled send; for the weekly summary, that week's Monday.
    day: date
    # Rows written before kinds existed are digests: the server default keeps them so.
    kind: DeliveryKind = Field(
        default=DeliveryKind.DIGEST,
        sa_type=enum_type(DeliveryKind),
        sa_column_kwargs={"server_default": DeliveryKind.DIGEST.value},
    )
    status: DeliveryStatus = Field(sa_type=enum_type(DeliveryStatus))
    claims: int = 1
    attempts: int = 0  # sendMessage calls over all claims
    claimed_at: datetime = Field(sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=100)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, sa_type=Text)
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    # The clients of the digest, best first: [{"id": 42, "why": "new"}, …]; "show all" pages it.
    items: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class AlertMemory(SQLModel, table=True):
    """What a person was last alerted about for one client, and until when they snoozed it."""

    __tablename__ = "alert_memory"
    __table_args__ = (Index("ix_alert_memory_client", "client_id"),)

    staff_id: int = Field(foreign_key="staff.id", primary_key=True, ondelete="CASCADE")
    client_id: int = Field(foreign_key="client.id", primary_key=True, ondelete="CASCADE")
    level: RiskLevel | None = Field(default=None, sa_type=enum_type(RiskLevel))
    score: int | None = None
    reason_keys: list[str] = Field(default_factory=list, sa_type=JSON)
    alerted_on: date | None = None
    snooze_until: date | None = None
    updated_at: datetime = updated_at_field()
