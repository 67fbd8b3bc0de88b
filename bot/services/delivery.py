"""Scheduled deliveries: once per person, day and kind, through Telegram's limits and failures.

Each kind of delivery is a `Plan`: who gets it, on which days, and a builder of what it says.
The morning digest (`DIGEST`, here) goes to everyone with alerts on, on their alert days; the
weekly summary (`bot.services.weekly.PLAN`) to supervisors on Mondays. For each person due:

1. Claim: insert their (person, day, kind) row into the delivery ledger and commit. The unique
   constraint makes a second claim — a restart, a second process, `crmbot alerts send-now` after
   the scheduled run — a no-op. Nothing is sent without a committed claim.
2. Build the content (the plan's builder). No text → the row ends 'skipped'.
3. Send the text, then the photo if there is one, with retries: RetryAfter is waited out,
   network errors and 5xx are retried with exponential backoff, a 403 marks the person as
   having blocked the bot.
4. Record the outcome and, when sent, the builder's bookkeeping (for the digest, what the person
   has now been alerted about) — one transaction.

A claim left 'pending' (the process died between 1 and 4) is taken over by a later run after
`Policy.stale_after`. Telegram cannot tell whether that message went out, so the takeover makes
delivery at-least-once in that window; a failed claim is retried by later runs up to
`Policy.max_claims`. Timeouts and 5xx answers are just as ambiguous (Telegram may have delivered
before the answer was lost), so their retries also lean to a rare duplicate over a lost message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.config import Settings
from bot.domain import Role
from bot.i18n import pick_language
from bot.services import digest as digest_service
from bot.services.digest_view import Page, keyboard, render_text
from bot.strategies.alerting import due_day, parse_days, zone
from db.models import Staff
from db.models.alerts import AlertDelivery, DeliveryKind, DeliveryStatus
from db.repositories import alerts as repo
from db.session import Database

log = logging.getLogger(__name__)
PROCESS = f"{socket.gethostname()}:{os.getpid()}"[:100]


@dataclass(frozen=True)
class Policy:
    """Retry and takeover rules of a delivery run."""

    tries: int = 4  # attempts per send on network errors and 5xx
    backoff: float = 0.5  # seconds before the first retry, doubled for each next one
    max_backoff: float = 8.0
    # Total RetryAfter waiting per send; a longer flood ban fails the claim for a later run.
    retry_after_budget: float = 120.0
    # A person's whole delivery (text and photo, retries included, AIORateLimiter's own
    # RetryAfter waits too) gives up after this; it must stay well below stale_after, or a slow
    # send would look abandoned.
    send_timeout: float = 240.0
    # A pending claim older than this was left by a process that died: take it over.
    stale_after: timedelta = timedelta(minutes=10)
    retry_failed_after: timedelta = timedelta(minutes=5)
    max_claims: int = 3
    # People served at once; AIORateLimiter holds the actual rate to Telegram's 30 messages/s.
    concurrency: int = 32


DEFAULT_POLICY = Policy()


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # nothing to say
    BLOCKED = "blocked"
    FAILED = "failed"
    TAKEN = "taken"  # already claimed: by an earlier run or another process


@dataclass
class RunReport:
    """What one run did."""

    due: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    failures: list[tuple[int, str]] = field(default_factory=list)
    blocked: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def __getitem__(self, outcome: Outcome) -> int:
        return self.outcomes[outcome]

    def summary(self) -> str:
        parts = [f"{o.value} {self.outcomes[o]}" for o in Outcome]
        return f"due {self.due}: " + ", ".join(parts) + f" in {self.seconds:.1f} s"


@dataclass
class SendResult:
    message_id: int | None = None
    attempts: int = 0
    blocked: bool = False
    error: str | None = None


# ---- what a plan sends ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A claimed delivery to build: whom, for which day (the ledger's), and when."""

    person: Staff
    day: date
    delivery_id: int
    settings: Settings
    now: datetime

    @property
    def staff_id(self) -> int:
        assert self.person.id is not None
        return self.person.id

    @property
    def lang(self) -> str:
        return pick_language(self.person.language, self.settings.language)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.person.timezone, self.settings.timezone)


# Bookkeeping written in the outcome's transaction: (session, now).
Record = Callable[[AsyncSession, datetime], Awaitable[None]]


@dataclass(frozen=True)
class Content:
    """What one person gets: a text message, then a photo if any. No text: nothing to say."""

    text: str | None
    markup: InlineKeyboardMarkup | None = None
    photo: bytes | None = None  # PNG, sent after the text
    caption: str | None = None
    items: list[dict[str, Any]] | None = None  # the ledger row's items
    # Runs when the content was sent, or skipped as empty; never when sending failed.
    record: Record | None = None

    @property
    def empty(self) -> bool:
        return self.text is None


Builder = Callable[[AsyncSession, Request], Awaitable[Content]]


def _alert_days(person: Staff) -> frozenset[int]:
    return parse_days(person.alert_days)


def _same_day(day: date) -> date:
    return day


@dataclass(frozen=True)
class Plan:
    """One kind of scheduled delivery: who gets it, on which days, and what it says."""

    kind: DeliveryKind
    name: str  # for logs
    build: Builder
    roles: frozenset[Role] | None = None  # None: every role
    # The ISO weekdays it is due for a person, at their alert time.
    weekdays: Callable[[Staff], frozenset[int]] = _alert_days
    # The ledger day a run by hand for `day` stands for (the weekly summary: that week's Monday).
    period: Callable[[date], date] = _same_day


# ---- sending -------------------------------------------------------------------------------


class Writes:
    """Write transactions of one run; on SQLite, one at a time within the process.

    SQLite has a single writer: concurrent write transactions from the workers of one run
    would only wait in SQLite's busy handler, which sleeps in steps. Queueing them here is much
    faster; another process is still kept out by the database lock and its busy timeout.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = asyncio.Lock() if db.is_sqlite else None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        if self._lock is None:
            async with self.db.session() as session:
                yield session
            return
        async with self._lock, self.db.session() as session:
            yield session


def _retry_after_seconds(error: RetryAfter) -> float:
    # PTB 22 warns when .retry_after is read (int → timedelta migration); its own rate limiter
    # reads the timedelta underneath, as we do.
    delta = getattr(error, "_retry_after", None)
    return delta.total_seconds() if isinstance(delta, timedelta) else 1.0


async def _send_text(bot: Bot, chat_id: int, content: Content) -> Message:
    assert content.text is not None
    return await bot.send_message(
        chat_id,
        content.text,
        parse_mode=ParseMode.HTML,
        reply_markup=content.markup,
        disable_web_page_preview=True,
    )


async def _send_photo(bot: Bot, chat_id: int, content: Content) -> Message:
    assert content.photo is not None
    # A fresh InputFile per attempt: an upload is not to be reused after a failed request.
    photo = InputFile(content.photo, filename="chart.png")
    return await bot.send_photo(chat_id, photo, caption=content.caption)


async def send_content(
    bot: Bot, chat_id: int, content: Content, policy: Policy = DEFAULT_POLICY
) -> SendResult:
    """Send the text, then the photo, each with retries, within one time budget.

    The result is the text's: once it is out the delivery counts as sent, and a photo that could
    not follow is only noted in `error`.
    """
    text, photo = SendResult(), SendResult()
    try:
        async with asyncio.timeout(policy.send_timeout):
            await _retry(partial(_send_text, bot, chat_id, content), chat_id, policy, text)
            if text.message_id is not None and content.photo is not None:
                await _retry(partial(_send_photo, bot, chat_id, content), chat_id, policy, photo)
    except TimeoutError:
        late = photo if text.message_id is not None else text
        late.error = f"gave up after {policy.send_timeout:g} s"
    text.attempts += photo.attempts
    if text.message_id is not None and content.photo is not None and photo.message_id is None:
        text.error = f"photo: {photo.error}"
        text.blocked = photo.blocked
    return text


async def _retry(
    attempt: Callable[[], Awaitable[Message]],
    chat_id: int,
    policy: Policy,
    result: SendResult,
) -> None:
    transient = 0
    waited = 0.0
    while True:
        result.attempts += 1
        try:
            message = await attempt()
        except RetryAfter as error:
            delay = _retry_after_seconds(error)
            if waited + delay > policy.retry_after_budget:
                result.error = f"flood control: retry after {delay:.0f} s, over budget"
                return
            waited += delay
            log.info("flood control for chat %s: waiting %.1f s", chat_id, delay)
            await asyncio.sleep(delay)
        except Forbidden as error:
            result.blocked = True
            result.error = str(error)
            return
        except BadRequest as error:  # our request is wrong: retrying cannot help
            result.error = f"bad request: {error}"
            return
        except NetworkError as error:  # includes TimedOut and 5xx answers
            transient += 1
            if transient >= policy.tries:
                result.error = f"network: {error}"
                return
            delay = min(policy.max_backoff, policy.backoff * 2 ** (transient - 1))
            delay *= random.uniform(0.8, 1.2)
            log.info("send to chat %s failed (%s); retry in %.1f s", chat_id, error, delay)
            await asyncio.sleep(delay)
        except TelegramError as error:
            result.error = f"{type(error).__name__}: {error}"
            return
        else:
            result.message_id = message.message_id
            return


# ---- the morning digest --------------------------------------------------------------------


async def digest_content(session: AsyncSession, request: Request) -> Content:
    """The morning digest; nothing when nothing is new. Alert memory is written with the outcome."""
    person, day, staff_id = request.person, request.day, request.staff_id
    digest = await digest_service.build(session, staff=person, day=day, now=request.now)

    async def forget(session: AsyncSession, now: datetime) -> None:
        await repo.forget(session, staff_id=staff_id, client_ids=digest.forget)

    if digest.empty:
        return Content(text=None, record=forget)

    async def remember(session: AsyncSession, now: datetime) -> None:
        await repo.remember(session, staff_id=staff_id, day=day, now=now, states=digest.remember)
        await forget(session, now)

    page = Page(
        kind="digest",
        day=day,
        items=digest_service.page_of(digest.items, 1),
        page=1,
        total=len(digest.items),
        quiet=digest.quiet,
        team=digest.team,
        team_name=person.team if person.role == Role.SUPERVISOR else None,
        delivery_id=request.delivery_id,
    )
    return Content(
        text=render_text(page, request.lang, request.tz.key),
        markup=keyboard(page, request.lang),
        items=digest.ledger_items(),
        record=remember,
    )


DIGEST = Plan(kind=DeliveryKind.DIGEST, name="morning digest", build=digest_content)


# ---- runs ----------------------------------------------------------------------------------


def claimable(
    row: AlertDelivery | None, now: datetime, policy: Policy, *, manual: bool = False
) -> bool:
    """Whether a run may claim this (person, day, kind): free, stale, or failed and due a retry."""
    if row is None:
        return True
    if row.status == DeliveryStatus.PENDING:
        return now - row.claimed_at >= policy.stale_after and row.claims < policy.max_claims
    if row.status == DeliveryStatus.FAILED:
        if manual:  # an operator re-running the day wants the failures retried now
            return True
        since = row.finished_at or row.claimed_at
        return row.claims < policy.max_claims and now - since >= policy.retry_failed_after
    return False


def person_day(
    person: Staff,
    settings: Settings,
    now: datetime,
    *,
    manual: bool,
    day: date | None,
    plan: Plan = DIGEST,
) -> date | None:
    """The ledger day of the plan's message this person is due at `now` (any day by hand)."""
    tz = zone(person.timezone, settings.timezone)
    if day is not None:
        return plan.period(day)
    if manual:
        return plan.period(now.astimezone(tz).date())
    grace = timedelta(hours=settings.alert_grace_hours) if settings.alert_grace_hours else None
    at = person.alert_time or settings.alert_time
    return due_day(now, tz, at, plan.weekdays(person), grace)


async def run(
    bot: Bot,
    db: Database,
    settings: Settings,
    *,
    clock: Callable[[], datetime],
    plan: Plan = DIGEST,
    manual: bool = False,
    day: date | None = None,
    staff_ids: Collection[int] | None = None,
    policy: Policy = DEFAULT_POLICY,
    on_blocked: Callable[[int], Any] | None = None,
) -> RunReport:
    """Deliver every message of the plan due now (or, `manual`, of `day`/today) once."""
    started = time.perf_counter()
    report = RunReport()
    now = clock()
    manual = manual or day is not None
    async with db.session() as session:
        people = await repo.recipients(session, staff_ids=staff_ids, roles=plan.roles)
    due = []
    for person in people:
        when = person_day(person, settings, now, manual=manual, day=day, plan=plan)
        if when is not None:
            due.append((person, when))
    report.due = len(due)
    if not due:
        return report
    async with db.session() as session:
        rows = await repo.deliveries(
            session,
            staff_ids=[p.id for p, _ in due if p.id],
            days={d for _, d in due},
            kinds=[plan.kind],
        )
    work = []
    for person, when in due:
        row = rows.get((person.id, when, plan.kind))  # type: ignore[arg-type]
        if claimable(row, now, policy, manual=manual):
            work.append((person, when, row))
        else:
            report.outcomes[Outcome.TAKEN] += 1
    gate = asyncio.Semaphore(policy.concurrency)
    writes = Writes(db)

    async def one(person: Staff, when: date, row: AlertDelivery | None) -> None:
        async with gate:
            outcome, error = await deliver(
                bot, writes, settings, person, when, row, clock=clock, policy=policy, plan=plan
            )
        report.outcomes[outcome] += 1
        if outcome == Outcome.FAILED:
            report.failures.append((person.id or 0, error or ""))
        if outcome == Outcome.BLOCKED:
            report.blocked.append(person.id or 0)
            if on_blocked is not None:
                on_blocked(person.id or 0)

    await asyncio.gather(*(one(p, d, r) for p, d, r in work))
    report.seconds = time.perf_counter() - started
    if work:
        log.info("%s run: %s", plan.name, report.summary())
    return report


async def _claim(
    writes: Writes,
    person: Staff,
    day: date,
    row: AlertDelivery | None,
    now: datetime,
    kind: DeliveryKind,
) -> int | None:
    assert person.id is not None
    async with writes.session() as session:
        if row is None:
            return await repo.claim(
                session, staff_id=person.id, day=day, kind=kind, now=now, by=PROCESS
            )
        return row.id if await repo.reclaim(session, row=row, now=now, by=PROCESS) else None


async def deliver(
    bot: Bot,
    writes: Writes,
    settings: Settings,
    person: Staff,
    day: date,
    row: AlertDelivery | None,
    *,
    clock: Callable[[], datetime],
    policy: Policy = DEFAULT_POLICY,
    plan: Plan = DIGEST,
) -> tuple[Outcome, str | None]:
    """Claim, build, send and record one person's message of this plan; never raises."""
    assert person.id is not None
    try:
        delivery_id = await _claim(writes, person, day, row, clock(), plan.kind)
    except Exception as error:
        log.exception("could not claim the %s of staff %s for %s", plan.name, person.id, day)
        return Outcome.FAILED, f"claim: {error!r}"
    if delivery_id is None:
        return Outcome.TAKEN, None
    sent: SendResult | None = None
    try:
        request = Request(person, day, delivery_id, settings, clock())
        async with writes.db.session() as session:
            content = await plan.build(session, request)
        if content.empty:
            async with writes.session() as session:
                await _record(session, content, clock())
                await repo.finish(
                    session, delivery_id=delivery_id, status=DeliveryStatus.SKIPPED, now=clock()
                )
            return Outcome.SKIPPED, None
        sent = await send_content(bot, person.telegram_id, content, policy)
        async with writes.session() as session:
            return await _finish(session, plan, request, content, sent, clock())
    except Exception as error:
        log.exception("%s of staff %s for %s failed", plan.name, person.id, day)
        delivered = sent is not None and sent.message_id is not None
        try:
            async with writes.session() as session:
                await repo.finish(
                    session,
                    delivery_id=delivery_id,
                    # Sent but not recorded: say so, or a later run would send it again.
                    status=DeliveryStatus.SENT if delivered else DeliveryStatus.FAILED,
                    now=clock(),
                    attempts=sent.attempts if sent else 0,
                    message_id=sent.message_id if sent else None,
                    error=repr(error),
                )
        except Exception:
            log.exception("could not record the failure of delivery %s", delivery_id)
        return (Outcome.SENT, None) if delivered else (Outcome.FAILED, repr(error))


async def _record(session: AsyncSession, content: Content, now: datetime) -> None:
    if content.record is not None:
        await content.record(session, now)


async def _finish(
    session: AsyncSession,
    plan: Plan,
    request: Request,
    content: Content,
    sent: SendResult,
    now: datetime,
) -> tuple[Outcome, str | None]:
    """Record how the send ended, with the builder's bookkeeping when it went out."""
    staff_id, delivery_id = request.staff_id, request.delivery_id
    if sent.blocked:
        # Also when the text went out and only the photo met the block: later runs skip them.
        await repo.mark_blocked(session, staff_id=staff_id, now=now)
    if sent.message_id is not None:
        await repo.finish(
            session,
            delivery_id=delivery_id,
            status=DeliveryStatus.SENT,
            now=now,
            attempts=sent.attempts,
            message_id=sent.message_id,
            items=content.items,
            error=sent.error,  # a photo that could not follow the text
        )
        await _record(session, content, now)
        if sent.error:
            log.warning("%s to staff %s sent, but: %s", plan.name, staff_id, sent.error)
        return Outcome.SENT, None
    status = DeliveryStatus.BLOCKED if sent.blocked else DeliveryStatus.FAILED
    await repo.finish(
        session,
        delivery_id=delivery_id,
        status=status,
        now=now,
        attempts=sent.attempts,
        error=sent.error,
    )
    if sent.blocked:
        log.info("staff %s blocked the bot; deliveries paused", staff_id)
        return Outcome.BLOCKED, sent.error
    log.warning("%s to staff %s failed: %s", plan.name, staff_id, sent.error)
    return Outcome.FAILED, sent.error
