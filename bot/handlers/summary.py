"""Supervisor summaries: /summary with drill-down buttons and a chart."""

from __future__ import annotations

from time import monotonic

from sqlmodel import select
from telegram import InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import callbacks
from bot.domain import ClientType, Role, Strategy
from bot.menu import SUPERVISORS, MenuCommand
from bot.messaging import send, show
from bot.runtime import CRMContext
from bot.services import summary as service
from bot.services import summary_view as view
from db.models import Staff
from db.repositories import summary as repo

MENU = [MenuCommand("summary", SUPERVISORS, order=60)]


def _plain(text: str) -> str:
    return text.replace("«", "").replace("»", "").strip().lower()


async def resolve_segment(context: CRMContext, arg: str) -> repo.Narrow | None:
    """A segment or person from what the supervisor typed: a key, a label, a team or a name."""
    wanted = _plain(arg)
    t = context.t
    for ctype in ClientType:
        if wanted in (ctype.value, _plain(t.text(f"type.{ctype.value}"))):
            return repo.Narrow("type", ctype.value)
    for strategy in Strategy:
        if wanted in (strategy.value, _plain(t.text(f"strategy.{strategy.value}"))):
            return repo.Narrow("strategy", strategy.value)
    for team in await repo.teams(context.session, scope=context.scope):
        if wanted == team.lower():
            return repo.Narrow("team", team)
    people = select(Staff.id, Staff.name, Staff.telegram_id).where(context.scope.staff())
    for sid, name, telegram_id in (await context.session.exec(people)).all():
        if wanted == str(telegram_id) or (len(wanted) >= 3 and wanted in name.lower()):
            return repo.Narrow("manager", str(sid))
    return None


def _title(summary: service.Summary, context: CRMContext) -> str:
    return view.title(summary, context.t, role=context.me.role, team=context.me.team)


# The chart button comes right after the text: it draws the summary the user just read instead
# of recomputing it (the 12-month aggregate is most of a summary's cost at 100k clients).
RECENT_SECONDS = 120.0
RECENT_MAX = 200
_recent: dict[tuple[int, str], tuple[float, service.Summary]] = {}


def _recent_key(context: CRMContext, narrow: repo.Narrow | None) -> tuple[int, str]:
    return context.me.id, f"{narrow.kind}:{narrow.key}" if narrow else ""


async def _build(
    context: CRMContext, narrow: repo.Narrow | None, *, reuse: bool = False
) -> service.Summary:
    key = _recent_key(context, narrow)
    now = monotonic()
    if reuse and key in _recent and now - _recent[key][0] < RECENT_SECONDS:
        return _recent[key][1]
    services = context.services
    summary = await service.build(
        context.session,
        scope=context.scope,
        narrow=narrow,
        today=services.today(context.tz),
        now=services.now(),
    )
    if len(_recent) >= RECENT_MAX:
        _recent.clear()
    _recent[key] = (now, summary)
    return summary


async def _answer(update: Update, context: CRMContext, narrow: repo.Narrow | None) -> None:
    summary = await _build(context, narrow)
    text = view.render_text(summary, context.lang, _title(summary, context))
    await show(update, text, view.keyboard(summary, context.t))


def _refused(context: CRMContext) -> bool:
    return context.me.role == Role.MANAGER


async def summary_command(update: Update, context: CRMContext) -> None:
    """/summary [TYPE|STRATEGY|TEAM|MANAGER] — the picture of a scope or a segment."""
    if _refused(context):
        await send(update, context.t("summary.managers_refused"))
        return
    arg = " ".join(context.args or []).strip()[:100]
    narrow = await resolve_segment(context, arg) if arg else None
    if arg and narrow is None:
        await send(update, context.t("summary.unknown", arg=arg))
        return
    await _answer(update, context, narrow)


async def _narrow_from(context: CRMContext, parts: list[str]) -> repo.Narrow | bool | None:
    """The narrowing a button stands for; False when the button is out of date."""
    if parts[1:2] == ["a"]:
        return None
    if len(parts) != 3 or parts[1] not in view.KINDS:
        return False
    kind, key = view.KINDS[parts[1]], parts[2]
    if kind == "team":
        teams = await repo.teams(context.session, scope=context.scope)
        if not key.isdigit() or int(key) >= len(teams):
            return False
        key = teams[int(key)]
    return repo.Narrow(kind, key)


async def on_summary_button(update: Update, context: CRMContext) -> None:
    """Drill down into a segment or person, or back to the whole summary."""
    query = update.callback_query
    assert query is not None
    narrow = await _narrow_from(context, callbacks.unpack(query.data))
    if _refused(context) or narrow is False:
        await query.answer(context.t.text("errors.stale"), show_alert=True)
        return
    await query.answer()
    await _answer(update, context, narrow or None)


async def on_chart_button(update: Update, context: CRMContext) -> None:
    """Send the chart of the summary the button was on."""
    query = update.callback_query
    assert query is not None
    narrow = await _narrow_from(context, callbacks.unpack(query.data))
    if _refused(context) or narrow is False:
        await query.answer(context.t.text("errors.stale"), show_alert=True)
        return
    await query.answer()
    summary = await _build(context, narrow or None, reuse=True)
    t = context.t
    png = view.chart(summary, t, _title(summary, context))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(
        InputFile(png, filename="summary.png"), caption=t.text("summary.chart_title")
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("summary", summary_command))
    app.add_handler(CallbackQueryHandler(on_summary_button, pattern=rf"^{view.SUMMARY}:"))
    app.add_handler(CallbackQueryHandler(on_chart_button, pattern=rf"^{view.CHART}:"))
