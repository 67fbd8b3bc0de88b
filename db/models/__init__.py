"""All table models. Every module in this package is imported here, so its tables register on
SQLModel.metadata (Alembic and the tests see them) without editing this file."""

import importlib
import pkgutil

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

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")

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
