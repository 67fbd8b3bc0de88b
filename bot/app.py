"""Building and running the Application: the one place where the bot is put together."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ContextTypes, Defaults

from bot.config import Settings
from bot.handlers import capability_modules, common
from bot.persistence import DatabasePersistence
from bot.runtime import CRMApplication, CRMContext, Services, UnitOfWorkProcessor, system_clock
from db.session import Database

log = logging.getLogger(__name__)
MAX_CONCURRENT_UPDATES = 64
# Keep-alive connections to the Bot API for everything but getUpdates. PTB's default of 256 makes
# every request scan a large pool: 8 carry far more than Telegram's 30 messages/s (measured with
# bench_throughput: bot CPU per /help 3.3 → 2.6 ms), and a burst waits for a free connection
# (up to HTTP_POOL_WAIT seconds) instead of failing.
HTTP_CONNECTIONS = 8
HTTP_POOL_WAIT = 10.0


def file_base_url(base_url: str) -> str:
    """Telegram serves files under /file/bot<token>; a self-hosted server mirrors that."""
    root = base_url.rstrip("/")
    root = root.removesuffix("/bot")
    return f"{root}/file/bot"


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    await common.set_default_menus(app)


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    await app.services.db.dispose()  # type: ignore[attr-defined]


def build_application(
    settings: Settings,
    database: Database | None = None,
    *,
    clock: Callable[[], datetime] = system_clock,
    rate_limit: bool = True,
) -> CRMApplication:
    """The bot with every capability registered, its services attached."""
    if not settings.bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    database = database or Database(settings.database_url)
    builder = (
        Application.builder()
        .application_class(CRMApplication)
        .token(settings.bot_token)
        .base_url(settings.api_base_url)
        .base_file_url(file_base_url(settings.api_base_url))
        .context_types(ContextTypes(context=CRMContext))
        .defaults(Defaults(tzinfo=settings.zone))
        .concurrent_updates(UnitOfWorkProcessor(database, MAX_CONCURRENT_UPDATES))
        .connection_pool_size(HTTP_CONNECTIONS)
        .pool_timeout(HTTP_POOL_WAIT)
        .persistence(DatabasePersistence(database))  # flows survive restarts (bot/persistence.py)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if rate_limit:
        # One message per 1/30 s rather than 30 per second: the default bucket lets a burst of 30
        # through at once and another after every pause, which Telegram answers with 429s.
        limiter = AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 30, max_retries=3)
        builder = builder.rate_limiter(limiter)
    app: CRMApplication = builder.build()  # type: ignore[assignment]
    app.services = Services(settings=settings, db=database, clock=clock)
    for module in capability_modules():
        module.register(app)
    return app


def run_bot(settings: Settings) -> None:
    """Migrate, then serve: webhook when CRM_WEBHOOK_URL is set, long polling otherwise."""
    from db.migrate import upgrade

    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    upgrade(settings.database_url)
    app = build_application(settings)
    if settings.webhook_url:
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
