"""Synthetic demo data: `crmbot seed-demo` fills an empty database with a realistic client base."""

from bot.seed.generate import (
    DEMO_ADMIN_TELEGRAM_ID,
    DEMO_MANAGER_TELEGRAM_ID,
    DEMO_SUPERVISOR_TELEGRAM_ID,
    SeedError,
)
from bot.seed.load import SeedReport, seed_demo

__all__ = [
    "DEMO_ADMIN_TELEGRAM_ID",
    "DEMO_MANAGER_TELEGRAM_ID",
    "DEMO_SUPERVISOR_TELEGRAM_ID",
    "SeedError",
    "SeedReport",
    "seed_demo",
]
