"""All table models; importing this package registers them on SQLModel.metadata."""

from db.models.activity import (
    Complaint,
    ComplaintCreate,
    Interaction,
    InteractionCreate,
    Sale,
    SaleCreate,
)
from db.models.audit import AuditLog
from db.models.client import Client, ClientCreate
from db.models.search import ClientSearch
from db.models.staff import Staff, StaffCreate

__all__ = [
    "AuditLog",
    "Client",
    "ClientCreate",
    "ClientSearch",
    "Complaint",
    "ComplaintCreate",
    "Interaction",
    "InteractionCreate",
    "Sale",
    "SaleCreate",
    "Staff",
    "StaffCreate",
]
