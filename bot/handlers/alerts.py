"""The digest and weekly summary schedule, /atrisk, /alerts, and the morning digest's buttons."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import timedelta
from time import monotonic
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    TypeHandler,
)

from bot import callbacks
from bot.domain import Role
from bot.handlers.lookup import show_card
from bot.i18n import format_day
from bot.menu import MenuCommand
from bot.messaging import send, show
from bot.render import render
from bot.runtime import CRMApplication, CRMContext, StaffInfo
from bot.services import delivery, weekly
from bot.services import digest as digest_service
from bot.services.digest_view import (
    ATRISK_PAGE,
    DIGEST_PAGE,
    NEW_MESSAGE,
    OPEN_CARD,
    SNOOZE,
    Page,
    ViewRef,
    keyboard,
    render_text,
)
from bot.strategies.alerting import (
    SNOOZE_DAYS,
    format_days,
    parse_days,
    parse_days_arg,
    parse_time_arg,
)
from db.models import Staff
from db.models.alerts import DeliveryKind
from db.repositories import alerts as repo
from db.repositories import staff as staff_repo

log = logging.getLogger(__name__)

MENU = [MenuCommand("atrisk", order=20), MenuCommand("alerts", order=85)]
# After the access gate (-100), before everything else: notices people coming back.
UNBLOCK_GROUP = -50
TICK_SECONDS = 60
# The first tick soon after start catches up on digests missed while the bot was down.
FIRST_TICK_SECONDS = 20
JOB_NAME = "alerts.tick"


# ---- the schedule --------------------------------------------------------------------------


PLANS = (delivery.DIGEST, weekly.PLAN)


async def tick(context: CRMContext) -> None:
    """Every minute: deliver the digests and weekly summaries that are due (within the grace)."""
    app: CRMApplication = context.application  # type: ignore[assignment]
    services = app.services
    cache = blocked_cache(app)
    for plan in PLANS:
        try:
            await delivery.run(
                app.bot,
                services.db,
                services.settings,
                clock=services.now,
                plan=plan,
                on_blocked=cache.add,
            )
        except Exception:
            # One kind failing must not hold back the other.
            log.exception("the %s run failed; the next tick tries again", plan.name)


def schedule(app: Application) -> None:  # type: ignore[type-arg]
    if app.job_queue is None:
        log.warning("no job queue: scheduled messages go only by `crmbot alerts send-now`")
        return
    app.job_queue.run_repeating(
        tick,
        interval=TICK_SECONDS,
        first=FIRST_TICK_SECONDS,
        name=JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True},
    )


# ---- people who blocked the bot ------------------------------------------------------------


class BlockedCache:
    """Staff known to have blocked the bot, re-read from the database every `ttl` seconds.

    The access gate's StaffInfo does not carry blocked_at; this keeps the per-update check a set
    lookup. Another process's marks are seen within `ttl`.
    """

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self.ids: set[int] = set()
        self._loaded_at = -math.inf

    async def contains(self, session: Callable[[], AsyncSession], staff_id: int) -> bool:
        if monotonic() - self._loaded_at > self.ttl:
            self._loaded_at = monotonic()
            try:
                self.ids = await repo.blocked_ids(session())
            except (OperationalError, DBAPIError):
                # A convenience must not fail the user's request; the next refresh tries again.
                log.warning("could not read who blocked the bot", exc_info=True)
        return staff_id in self.ids

    def add(self, staff_id: int) -> None:
        self.ids.add(staff_id)

    def discard(self, staff_id: int) -> None:
        self.ids.discard(staff_id)


def blocked_cache(app: Application) -> BlockedCache:  # type: ignore[type-arg]
    extras = app.services.extras  # type: ignore[attr-defined]
    cache = extras.get("alerts.blocked")
    if cache is None:
        cache = extras["alerts.blocked"] = BlockedCache()
    return cache  # type: ignore[no-any-return]


async def watch_blocking(update: Update, context: CRMContext) -> None:
    """A person who blocked the bot and writes again gets digests again; a block is noted."""
    if context.staff is None:
        return
    me = context.me
    cache = blocked_cache(context.application)
    member = update.my_chat_member
    if member is not None:
        if member.chat.type != ChatType.PRIVATE:
            return
        if member.new_chat_member.status == ChatMemberStatus.BANNED:
            await repo.mark_blocked(context.session, staff_id=me.id, now=context.services.now())
            cache.add(me.id)
            return
    elif not await cache.contains(lambda: context.session, me.id):
        return
    if await repo.clear_blocked(context.session, staff_id=me.id):
        log.info("staff %s is back; morning digests resume", me.id)
    cache.discard(me.id)


# ---- /alerts -------------------------------------------------------------------------------


def _days_text(context: CRMContext, days: frozenset[int]) -> str:
    return ", ".join(context.t.text(f"alerts.weekday.{d}") for d in sorted(days)) or "—"


async def alerts_command(update: Update, context: CRMContext) -> None:
    """/alerts [on|off|HH:MM|days …|tz …] — the morning digest settings."""
    t = context.t
    args = context.args or []
    me = await context.session.get(Staff, context.me.id)
    assert me is not None
    settings = context.services.settings
    if not args:
        at = me.alert_time or settings.alert_time
        text = render(
            "alerts_settings",
            context.lang,
            enabled=me.alerts_enabled,
            at=f"{at:%H:%M}",
            zone=context.tz,
            days=_days_text(context, parse_days(me.alert_days)),
        )
        await send(update, text)
        return
    head, rest = args[0].lower(), " ".join(args[1:]).strip()
    if head in ("on", "вкл"):
        changes, reply = {"alerts_enabled": True}, t("alerts.set_on")
    elif head in ("off", "выкл"):
        changes, reply = {"alerts_enabled": False}, t("alerts.set_off")
    elif head in ("days", "дни"):
        days = parse_days_arg(rest)
        if days is None:
            await send(update, t("alerts.bad_days"))
            return
        changes = {"alert_days": format_days(days)}
        reply = t("alerts.set_days", days=_days_text(context, days))
    elif head in ("tz", "timezone", "пояс"):
        try:
            ZoneInfo(rest)
        except (ZoneInfoNotFoundError, ValueError):
            await send(update, t("alerts.bad_tz", tz=rest))
            return
        changes, reply = {"timezone": rest}, t("alerts.set_tz", tz=rest)
    elif (at := parse_time_arg(head)) is not None:
        changes, reply = {"alert_time": at}, t("alerts.set_time", time=f"{at:%H:%M}")
    elif head.count(":") == 1 or head.count(".") == 1:
        await send(update, t("alerts.bad_time"))
        return
    else:
        await send(update, t("alerts.usage"))
        return
    await staff_repo.update(
        context.session, staff=me, actor="staff", actor_staff_id=me.id, **changes
    )
    await context.commit()
    context.services.staff.forget(me.telegram_id)
    context.staff = StaffInfo.of(me)
    await send(update, reply)


# ---- /atrisk and the digest's pages --------------------------------------------------------


def _supervises(context: CRMContext) -> bool:
    return context.me.role in (Role.SUPERVISOR, Role.ADMIN)


def _team_name(context: CRMContext) -> str | None:
    return context.me.team if context.me.role == Role.SUPERVISOR else None


async def atrisk_page(context: CRMContext, page: int) -> Page:
    """A page of the clients at risk in the user's scope (supervisors: the team picture first)."""
    services = context.services
    today = services.today(context.tz)
    page = max(page, 1)
    items, total = await digest_service.at_risk_items(
        context.session, scope=context.scope, viewer_id=context.me.id, page=page, today=today
    )
    if not items and page > 1:  # the list got shorter since the button was made
        page = digest_service.pages(total)
        items, total = await digest_service.at_risk_items(
            context.session, scope=context.scope, viewer_id=context.me.id, page=page, today=today
        )
    team = None
    if _supervises(context) and page == 1:
        team = await digest_service.team_picture(
            context.session, scope=context.scope, now=services.now()
        )
    return Page(
        kind="atrisk",
        day=today,
        items=items,
        page=page,
        total=total,
        team=team,
        team_name=_team_name(context),
        show_owner=_supervises(context),
    )


async def digest_page(context: CRMContext, delivery_id: int, page: int) -> Page | None:
    """A page of a digest this user received, with current figures; None if not theirs."""
    services = context.services
    row = await repo.get_delivery(context.session, delivery_id=delivery_id)
    # A weekly summary's row is no digest: its id in a crafted button pages nothing.
    if row is None or row.staff_id != context.me.id or row.kind != DeliveryKind.DIGEST:
        return None
    items, quiet = await digest_service.digest_items(
        context.session, delivery=row, scope=context.scope, today=services.today(context.tz)
    )
    page = min(max(page, 1), digest_service.pages(len(items)))
    team = None
    if _supervises(context) and page == 1:
        team = await digest_service.team_picture(
            context.session, scope=context.scope, now=services.now()
        )
    return Page(
        kind="digest",
        day=row.day,
        items=digest_service.page_of(items, page),
        page=page,
        total=len(items),
        quiet=quiet,
        team=team,
        team_name=_team_name(context),
        delivery_id=row.id,
    )


async def _show_page(update: Update, context: CRMContext, page: Page) -> None:
    await show(update, render_text(page, context.lang, context.tz), keyboard(page, context.lang))


async def atrisk_command(update: Update, context: CRMContext) -> None:
    """/atrisk — the clients at risk in the user's scope, now."""
    page = await atrisk_page(context, 1)
    await send(update, render_text(page, context.lang, context.tz), keyboard(page, context.lang))


def _query(update: Update) -> CallbackQuery:
    query = update.callback_query
    assert query is not None
    return query


async def _stale(query: CallbackQuery, context: CRMContext) -> None:
    await query.answer(context.t.text("errors.stale"), show_alert=True)


def _ints(parts: list[str], count: int) -> list[int] | None:
    if len(parts) < count + 1 or not all(p.isdigit() for p in parts[1 : count + 1]):
        return None
    return [int(p) for p in parts[1 : count + 1]]


async def on_digest_page(update: Update, context: CRMContext) -> None:
    """Paging under a digest: "Show all", "More" and "Back"."""
    query = _query(update)
    numbers = _ints(callbacks.unpack(query.data), 2)
    page = await digest_page(context, numbers[0], numbers[1]) if numbers else None
    if page is None:
        await _stale(query, context)
        return
    await query.answer()
    await _show_page(update, context, page)


async def on_atrisk_page(update: Update, context: CRMContext) -> None:
    """Paging through /atrisk; "atr:1:n" (under a digest) shows the list as a new message."""
    query = _query(update)
    parts = callbacks.unpack(query.data)
    numbers = _ints(parts, 1)
    if numbers is None:
        await _stale(query, context)
        return
    await query.answer()
    page = await atrisk_page(context, numbers[0])
    text, markup = render_text(page, context.lang, context.tz), keyboard(page, context.lang)
    if parts[2:3] == [NEW_MESSAGE]:
        await send(update, text, markup)
    else:
        await show(update, text, markup)


async def _view(context: CRMContext, ref: ViewRef) -> Page | None:
    if ref.delivery_id is not None:
        return await digest_page(context, ref.delivery_id, ref.page)
    return await atrisk_page(context, ref.page)


async def on_snooze(update: Update, context: CRMContext) -> None:
    """Snooze a client for 7/14/30 days (0 lifts the snooze), then redraw the list."""
    query = _query(update)
    parts = callbacks.unpack(query.data)
    numbers = _ints(parts, 2)
    ref = ViewRef.parse(parts[3]) if len(parts) > 3 else None
    if numbers is None or ref is None or numbers[1] not in (0, *SNOOZE_DAYS):
        await _stale(query, context)
        return
    client_id, days = numbers
    session = context.session
    found = await repo.clients_by_id(session, ids=[client_id], scope=context.scope)
    client = found.get(client_id)
    if client is None:
        await _stale(query, context)
        return
    services = context.services
    today = services.today(context.tz)
    until = today + timedelta(days=days) if days else None
    await repo.snooze(
        session,
        staff_id=context.me.id,
        client_id=client_id,
        until=until,
        state=client.state,
        now=services.now(),
    )
    await context.commit()
    if until is not None:
        await query.answer(context.t.text("alerts.snoozed", day=format_day(until, context.lang)))
    else:
        await query.answer(context.t.text("alerts.unsnoozed"))
    page = await _view(context, ref)
    if page is not None:
        await _show_page(update, context, page)


async def on_open_card(update: Update, context: CRMContext) -> None:
    """Open a client's card below the list, so the digest stays readable."""
    query = _query(update)
    numbers = _ints(callbacks.unpack(query.data), 1)
    if numbers is None:
        await _stale(query, context)
        return
    await query.answer()
    message = query.message
    # A message-only update makes show_card send a new message instead of editing this one.
    target = Update(update.update_id, message=message) if isinstance(message, Message) else update
    await show_card(target, context, numbers[0], f"#{numbers[0]}")


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(TypeHandler(Update, watch_blocking), group=UNBLOCK_GROUP)
    app.add_handler(CommandHandler("atrisk", atrisk_command))
    app.add_handler(CommandHandler("alerts", alerts_command))
    app.add_handler(CallbackQueryHandler(on_digest_page, pattern=rf"^{DIGEST_PAGE}:"))
    app.add_handler(CallbackQueryHandler(on_atrisk_page, pattern=rf"^{ATRISK_PAGE}:"))
    app.add_handler(CallbackQueryHandler(on_snooze, pattern=rf"^{SNOOZE}:"))
    app.add_handler(CallbackQueryHandler(on_open_card, pattern=rf"^{OPEN_CARD}:"))
    schedule(app)
