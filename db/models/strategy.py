"""What the strategy engine keeps besides the client row: history, runs, recommendation answers.

- classification_history: one row each time a client's type or (effective) strategy changes.
- risk_history: one row per client whenever its risk moves noticeably (level, score by 5+ points,
  P(alive) by 0.05+), so the state on any past day is the latest row on or before it.
- strategy_run: every classification run, with the base-wide calibration (BG/NBD parameters, RFM
  edges) that later single-client recomputations reuse.
- recommendation_feedback: what staff answered to a recommended action.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Index, Text
from sqlmodel import Field, SQLModel

from bot.domain import ClientType, RiskLevel, SegmentStrategy, Strategy
from bot.strategies.playbooks import FeedbackAnswer
from db.models.columns import created_at_field, enum_type
from db.types import Money, UTCDateTime


class ClassificationChange(SQLModel, table=True):
    __tablename__ = "classification_history"
    __table_args__ = (
        Index("ix_classification_history_client_at", "client_id", "at"),
        Index("ix_classification_history_day", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime)
    day: date  # the company's local date of the change
    client_type: ClientType | None = Field(default=None, sa_type=enum_type(ClientType))
    # The effective strategy (a manual override wins) and its segment strategy.
    strategy: Strategy | None = Field(default=None, sa_type=enum_type(Strategy))
    segment_strategy: SegmentStrategy | None = Field(
        default=None, sa_type=enum_type(SegmentStrategy)
    )
    overridden: bool = False
    previous_type: ClientType | None = Field(
        default=None, sa_type=enum_type(ClientType, name="previous_clienttype")
    )
    previous_strategy: Strategy | None = Field(
        default=None, sa_type=enum_type(Strategy, name="previous_strategy")
    )
    # nightly, event, import, cli, seed, override
    source: str = Field(max_length=20)
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    reasons: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)


class RiskSnapshot(SQLModel, table=True):
    __tablename__ = "risk_history"
    __table_args__ = (
        Index("ix_risk_history_client_day", "client_id", "day"),
        Index("ix_risk_history_day", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", ondelete="CASCADE")
    day: date
    at: datetime = Field(sa_type=UTCDateTime)
    score: int
    level: RiskLevel = Field(sa_type=enum_type(RiskLevel))
    p_alive: float | None = None
    value_at_risk: Decimal | None = Field(default=None, sa_type=Money)
    reasons: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)


class StrategyRun(SQLModel, table=True):
    __tablename__ = "strategy_run"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    day: date
    source: str = Field(max_length=20)
    full: bool  # the whole base (and a fresh calibration) or a set of clients
    clients: int
    seconds: float
    calibration: dict[str, Any] = Field(sa_type=JSON)
    counts: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class RecommendationFeedback(SQLModel, table=True):
    __tablename__ = "recommendation_feedback"
    __table_args__ = (
        Index("ix_recommendation_feedback_client_at", "client_id", "at"),
        Index("ix_recommendation_feedback_action", "action", "answer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", ondelete="CASCADE")
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    at: datetime = Field(sa_type=UTCDateTime)
    action: str = Field(max_length=40)
    playbook: str = Field(max_length=20)  # the playbook file the action came from
    strategy: Strategy | None = Field(default=None, sa_type=enum_type(Strategy))
    answer: FeedbackAnswer = Field(sa_type=enum_type(FeedbackAnswer))
    reason: str | None = Field(default=None, sa_type=Text)
    interaction_id: int | None = Field(
        default=None, foreign_key="interaction.id", ondelete="SET NULL"
    )
