"""The audit log: who changed what, when, with the before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from db.models.columns import created_at_field


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_entity", "entity", "entity_id"),
        Index("ix_audit_client_at", "client_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    # "cli", "import", "system" or "staff": who, when there is no staff row to point at.
    actor: str = Field(max_length=40)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: int | None = None
    client_id: int | None = None
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
