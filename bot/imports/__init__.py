"""Importing clients, sales and interactions from CSV/XLSX files (Excel, 1C), in bulk.

Each import reads and normalises the whole file, then writes in one transaction with a few
set-based statements and one summarising audit row (no per-row audit). A file it cannot read or
that lacks a required column raises ImportFileError before anything is written; bad rows are
skipped and listed in the ImportReport with their line numbers.
"""

from bot.imports.clients import import_clients, import_clients_data
from bot.imports.errors import ImportFileError, MissingColumnsError, UnreadableFileError
from bot.imports.interactions import import_interactions, import_interactions_data
from bot.imports.report import ImportReport, RowError
from bot.imports.sales import import_sales, import_sales_data

__all__ = [
    "ImportFileError",
    "ImportReport",
    "MissingColumnsError",
    "RowError",
    "UnreadableFileError",
    "import_clients",
    "import_clients_data",
    "import_interactions",
    "import_interactions_data",
    "import_sales",
    "import_sales_data",
]
