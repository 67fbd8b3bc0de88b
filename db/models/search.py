"""The client search index: one row per (client, term)."""

from __future__ import annotations

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel


class ClientSearch(SQLModel, table=True):
    __tablename__ = "client_search"
    # (term, client_id) serves exact and prefix lookups; the id only ever grows, so max(id)
    # tells a process whether its cached vocabulary of terms is stale.
    __table_args__ = (
        Index("ix_client_search_term", "term", "client_id"),
        Index("ix_client_search_client", "client_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", ondelete="CASCADE")
    # Byte-wise order on both engines, so a prefix is a range scan of the index.
    term: str = Field(sa_type=String(100).with_variant(String(100, collation="C"), "postgresql"))
    field: str = Field(max_length=10)
