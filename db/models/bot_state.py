"""The bot's own state between restarts: conversations and user/chat/bot data, as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from db.models.columns import updated_at_field


class BotState(SQLModel, table=True):
    """One row per stored piece: ("user_data", "42"), ("conversation:crm_flows", "[42, 42]")."""

    __tablename__ = "bot_state"

    namespace: str = Field(max_length=80, primary_key=True)
    key: str = Field(max_length=100, primary_key=True)
    data: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    updated_at: datetime = updated_at_field()
