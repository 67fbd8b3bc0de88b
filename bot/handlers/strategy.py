"""The strategy engine in the chat: /why, /strategy, /recommend, answers to recommendations,
the card's recommendations, and the nightly recomputation.

Managers and supervisors act on the clients in their scope; a client out of scope looks exactly
like a client that does not exist.
"""

from __future__ import annotations

import logging
from datetime import time
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import callbacks, flows
from bot.config import ConfigError
from bot.domain import SEGMENT_FOR_STRATEGY, Role, Strategy
from bot.handlers.lookup import card_buttons, card_extra, parse_client_id
from bot.i18n import Translator
from bot.menu import SUPERVISORS, MenuCommand
from bot.messaging import send, show
from bot.render import render
from bot.runtime import CRMContext
from bot.services import classification
from bot.services import recommend as service
from bot.services.card import Card
from bot.strategies.config import StrategyConfig, StrategyConfigError
from bot.strategies.playbooks import FeedbackAnswer, PlaybookError, Recommendation
from bot.strategies.playbooks import render as render_action
from db.models import Client
from db.models.strategy import ClassificationChange
from db.repositories import audit
from db.repositories import clients as clients_repo
from db.repositories import strategy as strategy_repo

log = logging.getLogger(__name__)

MENU = [
    MenuCommand("recommend", order=20),
    MenuCommand("why", order=21),
    MenuCommand("strategy", order=22),
    MenuCommand("recstats", SUPERVISORS, order=62),
]
REC = "rec"  # rec:<client>:<action>:<d|l|x> — done, later (not now), not applicable
RECS = "recs"  # recs:<client> — the card's Recommendations button
ANSWERS = {
    "d": FeedbackAnswer.DONE,
    "l": FeedbackAnswer.NOT_NOW,
    "x": FeedbackAnswer.NOT_APPLICABLE,
}
NOT_APPLICABLE = "rec_na"  # the flow state waiting for the reason
REASON_MAX = 500
CLEAR_WORDS = frozenset({"clear", "off", "none", "снять", "сброс", "-"})
NIGHTLY_AT = time(2, 0)
STATS_DAYS = 90
ALERT_MAX = 190  # Telegram shows at most 200 characters in a callback answer


# ---- shared helpers -------------------------------------------------------------------------


def _config() -> StrategyConfig:
    return classification.engine.config


async def _client(context: CRMContext, client_id: int) -> Client | None:
    return await clients_repo.get_in_scope(
        context.session, client_id=client_id, scope=context.scope
    )


async def _situation(context: CRMContext, client: Client) -> service.ClientSituation:
    now = context.services.now()
    return await service.situation_of(
        context.session,
        client,
        now=now,
        today=classification.local_day(now),
        config=_config(),
    )


async def _recommendations(
    context: CRMContext, situation: service.ClientSituation, limit: int
) -> list[Recommendation]:
    return await service.recommendations(
        context.session,
        situation,
        now=context.services.now(),
        lang=context.lang,
        tz=context.tz,
        limit=limit,
        config=_config(),
    )


def _client_arg(context: CRMContext) -> int | None:
    args = context.args or []
    return parse_client_id(args[0]) if args else None


# ---- /recommend -----------------------------------------------------------------------------


def _keyboard(
    client_id: int, actions: list[Recommendation], t: Translator
) -> InlineKeyboardMarkup | None:
    rows = []
    for number, action in enumerate(actions, start=1):
        rows.append(
            [
                InlineKeyboardButton(
                    t.text(f"recommend.{label}_label", n=number),
                    callback_data=callbacks.pack(REC, client_id, action.key, code),
                )
                for label, code in (("done", "d"), ("later", "l"), ("na", "x"))
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


async def _recommend_view(
    context: CRMContext, client: Client
) -> tuple[str, InlineKeyboardMarkup | None]:
    situation = await _situation(context, client)
    actions = await _recommendations(context, situation, _config().playbooks.on_recommend)
    assert client.id is not None
    text = render(
        "recommend",
        context.lang,
        client=client,
        strategy=client.effective_strategy,
        actions=actions,
    )
    return text, _keyboard(client.id, actions, context.t)


async def recommend_command(update: Update, context: CRMContext) -> None:
    """/recommend ID — the next actions for a client, each with done / not now / not applicable."""
    client_id = _client_arg(context)
    if client_id is None:
        await send(update, context.t("recommend.usage"))
        return
    client = await _client(context, client_id)
    if client is None:
        await send(update, context.t("errors.not_found", ref=f"#{client_id}"))
        return
    text, keyboard = await _recommend_view(context, client)
    await send(update, text, keyboard)


async def on_recommendations_button(update: Update, context: CRMContext) -> None:
    """The card's Recommendations button: the list as a new message, the card stays."""
    query = update.callback_query
    assert query is not None
    parts = callbacks.unpack(query.data)
    client_id = parse_client_id(parts[1]) if len(parts) == 2 else None
    client = await _client(context, client_id) if client_id is not None else None
    if client is None:
        await query.answer(context.t.text("errors.stale"), show_alert=True)
        return
    await query.answer()
    text, keyboard = await _recommend_view(context, client)
    await send(update, text, keyboard)


def _parse_answer(data: str | None) -> tuple[int, str, FeedbackAnswer] | None:
    parts = callbacks.unpack(data)
    if len(parts) != 4 or parts[3] not in ANSWERS:
        return None
    client_id = parse_client_id(parts[1])
    return (client_id, parts[2], ANSWERS[parts[3]]) if client_id is not None else None


async def on_answer(update: Update, context: CRMContext) -> None:
    """✅ done (logs a note) or ⏳ not now: store the answer, refresh the list in place."""
    query = update.callback_query
    assert query is not None
    parsed = _parse_answer(query.data)
    client = await _client(context, parsed[0]) if parsed else None
    action = (
        service.find_action(client.effective_strategy, parsed[1]) if client and parsed else None
    )
    if parsed is None or client is None or action is None:
        await query.answer(context.t.text("recommend.stale"), show_alert=True)
        return
    situation = await _situation(context, client)
    _, shown = await service.answer(
        context.session,
        situation,
        action,
        parsed[2],
        staff_id=context.me.id,
        now=context.services.now(),
        lang=context.lang,
        tz=context.tz,
    )
    await context.commit()
    t = context.t
    if parsed[2] is FeedbackAnswer.DONE:
        note = t.text("recommend.done", title=shown.title)
    else:
        note = t.text("recommend.later")
    await query.answer(note[:ALERT_MAX])
    text, keyboard = await _recommend_view(context, client)
    await show(update, text, keyboard)


# ---- not applicable: a one-step flow asking for the reason --------------------------------------


async def na_entry(update: Update, context: CRMContext) -> object:
    """✖ not applicable: ask why (the answer is typed; /cancel leaves)."""
    query = update.callback_query
    assert query is not None
    parsed = _parse_answer(query.data)
    client = await _client(context, parsed[0]) if parsed else None
    action = (
        service.find_action(client.effective_strategy, parsed[1]) if client and parsed else None
    )
    if parsed is None or client is None or action is None:
        await flows.answer(update, context.t.text("recommend.stale"), alert=True)
        return None
    situation = await _situation(context, client)
    title = render_action(action, context.lang, situation.facts(context.lang, context.tz)).title
    current = await flows.start(
        update, context, NOT_APPLICABLE, client_id=client.id, action=action.key, title=title
    )
    await flows.answer(update)
    keyboard = InlineKeyboardMarkup([[flows.cancel_button(current, context.t)]])
    await send(update, context.t("recommend.na_ask", title=title), keyboard)
    return NOT_APPLICABLE


async def na_text(update: Update, context: CRMContext) -> object:
    """The reason, typed."""
    message = update.effective_message
    text = (message.text or "").strip() if message else ""
    problem = flows.check_text(text, REASON_MAX, context.t)
    if problem:
        await send(update, problem)
        return None
    flows.draft(context)["text"] = text
    return await save_not_applicable(update, context)


@flows.saver(NOT_APPLICABLE)
async def save_not_applicable(update: Update, context: CRMContext) -> object:
    current = flows.draft(context)
    client = await _client(context, int(current.get("client_id") or 0))
    action = (
        service.find_action(client.effective_strategy, str(current.get("action")))
        if client
        else None
    )
    if client is None or action is None:
        flows.finish(context)
        await send(update, context.t("recommend.stale"))
        return flows.END
    situation = await _situation(context, client)
    reason = str(current.get("text", ""))

    async def work(session: AsyncSession) -> None:
        await service.answer(
            session,
            situation,
            action,
            FeedbackAnswer.NOT_APPLICABLE,
            staff_id=context.me.id,
            now=context.services.now(),
            lang=context.lang,
            tz=context.tz,
            reason=reason,
        )

    if await flows.save(update, context, work) is flows.FAILED:
        return flows.RETRY
    flows.finish(context)
    await send(update, context.t("recommend.na_saved", reason=reason))
    text, keyboard = await _recommend_view(context, client)
    await send(update, text, keyboard)
    return flows.END


flows.entry(CallbackQueryHandler(flows.step(na_entry), pattern=rf"^{REC}:\d+:[a-z0-9_]+:x$"))
flows.on_text(NOT_APPLICABLE, na_text)


# ---- /why -----------------------------------------------------------------------------------


async def why_command(update: Update, context: CRMContext) -> None:
    """/why ID — the client's type, strategy and risk with every reason behind them."""
    client_id = _client_arg(context)
    if client_id is None:
        await send(update, context.t("why.usage"))
        return
    client = await _client(context, client_id)
    if client is None:
        await send(update, context.t("errors.not_found", ref=f"#{client_id}"))
        return
    session = context.session
    now = context.services.now()
    if client.classified_at is None:  # never computed: compute it now rather than say nothing
        await classification.recompute(session, client_ids={client_id}, source="why", now=now)
        await context.commit()
    facts = await classification.explain(session, client_id=client_id, now=now)
    strategy = client.effective_strategy
    text = render(
        "why",
        context.lang,
        client=client,
        strategy=strategy,
        segment=SEGMENT_FOR_STRATEGY[strategy] if strategy else None,
        reasons=client.classification_reasons or [],
        facts=facts,
        override_by=await strategy_repo.staff_name(session, staff_id=client.override_by_id),
        history=await strategy_repo.history(session, client_id=client_id, limit=5),
        tz=context.tz,
    )
    await send(update, text)


# ---- /strategy ------------------------------------------------------------------------------


async def strategy_command(update: Update, context: CRMContext) -> None:
    """/strategy ID KEY REASON — set the strategy by hand (audited); /strategy ID clear — undo."""
    t = context.t
    args = context.args or []
    client_id = parse_client_id(args[0]) if args else None
    if client_id is None or len(args) < 2:
        await send(update, t("strategy_cmd.usage"))
        return
    client = await _client(context, client_id)
    if client is None:
        await send(update, t("errors.not_found", ref=f"#{client_id}"))
        return
    key = args[1].lower()
    if key in CLEAR_WORDS:
        if client.strategy_override is None:
            await send(update, t("strategy_cmd.nothing_to_clear", name=client.name, id=client_id))
            return
        await _override(context, client, None, None)
        computed = client.effective_strategy
        await send(
            update,
            t(
                "strategy_cmd.cleared",
                name=client.name,
                id=client_id,
                strategy=t.text(f"strategy.{computed}") if computed else "—",
            ),
        )
        return
    try:
        chosen = Strategy(key)
    except ValueError:
        await send(update, t("strategy_cmd.bad_key", key=args[1][:40]))
        return
    reason = " ".join(args[2:]).strip()[:REASON_MAX]
    if not reason:
        await send(update, t("strategy_cmd.need_reason"))
        return
    await _override(context, client, chosen, reason)
    await send(
        update,
        t(
            "strategy_cmd.set",
            name=client.name,
            id=client_id,
            strategy=t.text(f"strategy.{chosen}"),
            computed=t.text(f"strategy.{client.strategy}") if client.strategy else "—",
            reason=reason,
        ),
    )


async def _override(
    context: CRMContext, client: Client, chosen: Strategy | None, reason: str | None
) -> None:
    """Set or clear the override, audit it, record the change, recompute the client, commit."""
    session = context.session
    now = context.services.now()
    fields = ["strategy_override", "override_reason", "override_by_id", "override_at"]
    before = audit.snapshot(client, fields)
    previous = client.effective_strategy
    client.strategy_override = chosen
    client.override_reason = reason
    client.override_by_id = context.me.id if chosen else None
    client.override_at = now if chosen else None
    session.add(client)
    await session.flush()
    audit.record(
        session,
        actor="staff",
        staff_id=context.me.id,
        action="strategy_override" if chosen else "strategy_override_clear",
        entity="client",
        entity_id=client.id,
        client_id=client.id,
        before=before,
        after=audit.snapshot(client, fields),
    )
    assert client.id is not None
    await classification.recompute(session, client_ids={client.id}, source="override", now=now)
    current = client.effective_strategy
    if current != previous:
        session.add(
            ClassificationChange(
                client_id=client.id,
                at=now,
                day=classification.local_day(now),
                client_type=client.client_type,
                strategy=current,
                segment_strategy=SEGMENT_FOR_STRATEGY[current] if current else None,
                overridden=chosen is not None,
                previous_type=client.client_type,
                previous_strategy=previous,
                source="override",
                staff_id=context.me.id,
                reasons=[{"key": "override", "params": {"reason": reason or ""}}],
            )
        )
    await context.commit()


# ---- /recstats ------------------------------------------------------------------------------


async def recstats_command(update: Update, context: CRMContext) -> None:
    """/recstats — how recommendations were answered lately (supervisors, their scope)."""
    if context.me.role == Role.MANAGER:
        await send(update, context.t("access.supervisors_only"))
        return
    stats = await service.stats(
        context.session, scope=context.scope, now=context.services.now(), days=STATS_DAYS
    )
    library = service.playbooks()
    blank = dict.fromkeys(service.FACT_NAMES, "…")
    titles = {
        key: render_action(action, context.lang, blank).title
        for key, action in library.by_key.items()
    }
    text = render("recstats", context.lang, stats=stats, titles=titles, days=STATS_DAYS)
    await send(update, text)


# ---- the card -------------------------------------------------------------------------------


@card_buttons(order=40)
def recommendations_button(card: Card, t: Translator) -> list[InlineKeyboardButton] | None:
    if card.client.effective_strategy is None:
        return None
    data = callbacks.pack(RECS, card.client.id)
    return [InlineKeyboardButton(t.text("recommend.button"), callback_data=data)]


@card_extra
async def card_recommendations(context: CRMContext, card: Card) -> None:
    """The top actions on the card (the full list is one tap away)."""
    limit = _config().playbooks.on_card
    if card.client.effective_strategy is None or limit <= 0:
        return
    situation = await _situation(context, card.client)
    card.recommendations = await _recommendations(context, situation, limit)


# ---- the nightly run --------------------------------------------------------------------------


async def nightly(context: CRMContext) -> None:
    """Recompute every client: types, strategies, risk; refit the base-wide model."""
    services = context.application.services  # type: ignore[attr-defined]
    async with services.db.session() as session:
        report = await classification.recompute(
            session,
            source="nightly",
            now=services.now(),
            commit_every=classification.COMMIT_EVERY,
        )
    log.info(
        "nightly classification: %s clients in %.1f s; types %s; strategies %s; risk %s",
        report.clients,
        report.seconds,
        dict(report.types),
        dict(report.strategies),
        dict(report.levels),
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    services = app.services  # type: ignore[attr-defined]
    settings = services.settings
    try:
        classification.configure(
            config_path=settings.strategy_config, clock=services.now, timezone=settings.timezone
        )
    except StrategyConfigError as error:
        raise ConfigError(f"CRM_STRATEGY_CONFIG: {error}") from None
    try:
        service.playbooks()  # a broken playbook stops start-up with its file and action named
    except PlaybookError as error:
        raise ConfigError(f"playbooks: {error}") from None
    app.add_handler(CommandHandler("recommend", recommend_command))
    app.add_handler(CommandHandler("why", why_command))
    app.add_handler(CommandHandler("strategy", strategy_command))
    app.add_handler(CommandHandler("recstats", recstats_command))
    app.add_handler(CallbackQueryHandler(on_recommendations_button, pattern=rf"^{RECS}:"))
    app.add_handler(CallbackQueryHandler(on_answer, pattern=rf"^{REC}:\d+:[a-z0-9_]+:[dl]$"))
    flows.install(app)
    if app.job_queue is not None:
        app.job_queue.run_daily(
            nightly,  # type: ignore[arg-type]
            time=NIGHTLY_AT.replace(tzinfo=ZoneInfo(settings.timezone)),
            name="strategy_nightly",
        )
