"""What happens with a client: interactions, complaints, sales."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from bot.domain import ComplaintCategory, ComplaintStatus, InteractionKind, Outcome, Severity
from db.models.columns import created_at_field, enum_type, updated_at_field
from db.types import Money, UTCDateTime

TEXT_MAX = 4000


class InteractionBase(SQLModel):
    client_id: int = Field(foreign_key="client.id", ondelete="CASCADE")
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    kind: InteractionKind = Field(sa_type=enum_type(InteractionKind))
    text: str = Field(default="", sa_type=Text)
    outcome: Outcome | None = Field(default=None, sa_type=enum_type(Outcome))
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    next_step: str | None = Field(default=None, max_length=500)
    next_step_due: date | None = None


class Interaction(InteractionBase, table=True):
    __table_args__ = (
        Index("ix_interaction_client_when", "client_id", "occurred_at"),
        Index("ix_interaction_staff_due", "staff_id", "next_step_due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    next_step_done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Makes re-imports idempotent: a hash of the source row, unique when present.
    import_key: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class InteractionCreate(InteractionBase):
    pass


class ComplaintBase(SQLModel):
    client_id: int = Field(foreign_key="client.id", ondelete="CASCADE")
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    category: ComplaintCategory = Field(sa_type=enum_type(ComplaintCategory))
    severity: Severity = Field(sa_type=enum_type(Severity))
    text: str = Field(sa_type=Text)
    status: ComplaintStatus = Field(
        default=ComplaintStatus.OPEN, sa_type=enum_type(ComplaintStatus)
    )
    due_at: datetime = Field(sa_type=UTCDateTime)


class Complaint(ComplaintBase, table=True):
    __table_args__ = (
        Index("ix_complaint_client_status", "client_id", "status"),
        Index("ix_complaint_status_due", "status", "due_at"),
        CheckConstraint(
            "satisfaction IS NULL OR (satisfaction BETWEEN 1 AND 5)",
            name="satisfaction",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    resolution: str | None = Field(default=None, sa_type=Text)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    satisfaction: int | None = None
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ComplaintCreate(ComplaintBase):
    pass


class SaleBase(SQLModel):
    client_id: int = Field(foreign_key="client.id", ondelete="CASCADE")
    date: date
    amount: Decimal = Field(sa_type=Money)
    margin: Decimal | None = Field(default=None, sa_type=Money)
    discount: bool = False
    invoice_due: date | None = None
    paid_date: date | None = None


class Sale(SaleBase, table=True):
    # Covering: per-client sums of amount and margin over dates read the index alone.
    __table_args__ = (
        Index("ix_sale_client_date_amounts", "client_id", "date", "amount", "margin"),
    )

    id: int | None = Field(default=None, primary_key=True)
    import_key: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = created_at_field()


class SaleCreate(SaleBase):
    pass
