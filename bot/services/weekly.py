"""The weekly summary pushed to supervisors on Monday morning, through the delivery ledger.

The same picture /summary gives them (their team, or everyone without a team), headed as the
week's summary, with the same drill-down buttons, then the chart as a photo. It is one more
`Plan` of bot.services.delivery: claimed, retried and recorded exactly like the digest.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Role
from bot.i18n import Translator
from bot.services import summary as summary_service
from bot.services import summary_view as view
from bot.services.delivery import Content, Plan, Request
from db.models import Staff
from db.models.alerts import DeliveryKind
from db.repositories.scope import Scope

log = logging.getLogger(__name__)
# Administrators ask /summary when they want it; the issue pushes to supervisors.
ROLES = frozenset({Role.SUPERVISOR})
MONDAY = frozenset({1})


def monday_of(day: date) -> date:
    """The Monday of the week `day` is in: the weekly summary's ledger day."""
    return day - timedelta(days=day.weekday())


def _mondays(person: Staff) -> frozenset[int]:
    # Monday whatever the person's digest days: the summary is the week's, not a day's.
    return MONDAY


def _chart(summary: summary_service.Summary, t: Translator, heading: str) -> bytes | None:
    try:
        return view.chart(summary, t, heading)
    except Exception:
        # The chart is a bonus: the figures still go out without it.
        log.exception("the weekly summary chart could not be drawn")
        return None


async def content(session: AsyncSession, request: Request) -> Content:
    """The supervisor's summary of their scope as of now; nothing when the scope has no clients."""
    person = request.person
    t = Translator(request.lang)
    summary = await summary_service.build(
        session,
        scope=Scope.of(person),
        narrow=None,
        today=request.now.astimezone(request.tz).date(),
        now=request.now,
    )
    if not summary.total.clients:
        return Content(text=None)
    heading = view.title(summary, t, role=person.role, team=person.team)
    return Content(
        text=view.render_text(summary, request.lang, heading, week_of=request.day),
        markup=view.keyboard(summary, t),
        photo=_chart(summary, t, heading),
        caption=t.text("summary.chart_title"),
    )


PLAN = Plan(
    kind=DeliveryKind.WEEKLY,
    name="weekly summary",
    build=content,
    roles=ROLES,
    weekdays=_mondays,
    period=monday_of,
)
