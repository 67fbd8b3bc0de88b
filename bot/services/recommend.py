"""Recommended actions for one client: its situation now, its playbooks, and staff's answers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import InteractionKind, Strategy
from bot.i18n import Translator, format_moment, format_money, format_number
from bot.render import TEMPLATES_DIR
from bot.services import events
from bot.strategies.config import StrategyConfig
from bot.strategies.features import FeatureTable
from bot.strategies.playbooks import (
    FACTS,
    Action,
    FeedbackAnswer,
    Library,
    Recommendation,
    Situation,
    library,
    render,
)
from db.models import Client, Interaction
from db.models.strategy import RecommendationFeedback
from db.repositories import audit
from db.repositories import features as features_repo
from db.repositories import strategy as repo

PLAYBOOKS_DIR = TEMPLATES_DIR / "playbooks"
NOTE_MAX = 2000
FACT_NAMES = tuple(FACTS)


def playbooks() -> Library:
    """The shipped (or admin-edited) playbooks, loaded and validated once per process."""
    return library(str(PLAYBOOKS_DIR))


def _int(value: float) -> int | None:
    return None if value is None or math.isnan(value) else int(value)


@dataclass(frozen=True)
class ClientSituation:
    """What the playbook conditions look at, and the facts titles may mention."""

    client: Client
    strategy: Strategy | None
    situation: Situation
    features: FeatureTable  # one row

    def facts(self, lang: str, tz: str | None = None) -> dict[str, str]:
        """The client's facts formatted for `lang` ("—" where there is none)."""
        f, s = self.features, self.situation
        due = f.next_complaint_due[0]
        gap = f.typical_gap[0]
        dash = "—"

        def num(value: float | int | None) -> str:
            return dash if value is None else format_number(int(value), lang)

        return {
            "client": self.client.name,
            "complaint_due": (
                format_moment(datetime.fromtimestamp(due * 86_400.0, UTC), lang, tz)
                if not math.isnan(due)
                else dash
            ),
            "complaint_count": num(s.open_complaints),
            "unpaid_amount": format_money(round(float(f.unpaid_amount[0])), lang),
            "unpaid_count": num(s.unpaid_invoices),
            "unpaid_days": num(_int(f.unpaid_days[0])),
            "referrals": num(s.referrals),
            "days_since_contact": num(s.days_since_contact),
            "days_since_purchase": num(s.days_since_purchase),
            "typical_gap": dash if math.isnan(gap) else num(round(gap)),
            "discount_share": f"{round(s.discount_share * 100)}%",
            "risk_score": num(self.client.risk_score),
        }


async def situation_of(
    session: AsyncSession,
    client: Client,
    *,
    now: datetime,
    today: date,
    config: StrategyConfig,
) -> ClientSituation:
    """The client's situation from its data as it is now (a few indexed queries)."""
    assert client.id is not None
    await session.flush()
    conn = await session.connection()
    f = await features_repo.load_features(
        conn,
        today=today,
        now=now,
        client_ids=[client.id],
        classification=True,
        gaps=False,
        write_off_days=config.classification.worst.unpaid_write_off_days,
    )
    trend = float(f.trend[0])
    situation = Situation(
        client_type=client.client_type,
        strategy=client.effective_strategy,
        open_complaints=int(f.open_complaints[0]),
        overdue_complaints=int(f.overdue_complaints[0]),
        complaints_12m=int(f.complaints_12m[0]),
        unpaid_invoices=int(f.unpaid_count[0]),
        refunds=bool(f.refunds_12m[0] > 0),
        risk_level=client.risk_level,
        referrals=int(f.referrals[0]),
        days_since_contact=_int(f.days_since_contact[0]),
        days_since_purchase=_int(f.days_since_purchase[0]),
        purchases=int(f.purchase_days[0]),
        discount_share=float(f.discount_share[0]),
        overdue_steps=int(f.overdue_steps[0]),
        trend=None if math.isnan(trend) else trend,
        relationship_days=int(f.relationship_days[0]),
        new_client_days=config.classification.potential.new_client_days,
    )
    return ClientSituation(client, client.effective_strategy, situation, f)


def _hide_days(config: StrategyConfig) -> dict[FeedbackAnswer, int]:
    p = config.playbooks
    return {
        FeedbackAnswer.DONE: p.hide_done_days,
        FeedbackAnswer.NOT_NOW: p.hide_not_now_days,
        FeedbackAnswer.NOT_APPLICABLE: p.hide_not_applicable_days,
    }


async def recommendations(
    session: AsyncSession,
    situation: ClientSituation,
    *,
    now: datetime,
    lang: str,
    tz: str | None,
    limit: int,
    config: StrategyConfig,
) -> list[Recommendation]:
    """The top actions for the client now, minus those answered recently."""
    if situation.strategy is None or limit <= 0:
        return []
    assert situation.client.id is not None
    hidden = await repo.hidden_actions(
        session, client_id=situation.client.id, now=now, hide_days=_hide_days(config)
    )
    return playbooks().recommend(
        situation.situation,
        situation.strategy,
        lang,
        situation.facts(lang, tz),
        hidden=hidden,
        limit=limit,
    )


def find_action(strategy: Strategy | None, key: str) -> Action | None:
    """The action `key` of the client's playbooks (else of any playbook), if it still exists."""
    lib = playbooks()
    if strategy is not None:
        for action in lib.for_strategy(strategy):
            if action.key == key:
                return action
    return lib.by_key.get(key)


async def answer(
    session: AsyncSession,
    situation: ClientSituation,
    action: Action,
    feedback: FeedbackAnswer,
    *,
    staff_id: int,
    now: datetime,
    lang: str,
    tz: str | None,
    reason: str | None = None,
) -> tuple[RecommendationFeedback, Recommendation]:
    """Store an answer; "done" also logs a note on the client (and recomputes the client)."""
    client = situation.client
    assert client.id is not None
    shown = render(action, lang, situation.facts(lang, tz))
    interaction_id = None
    if feedback is FeedbackAnswer.DONE:
        text = Translator(lang).text("recommend.done_note", title=shown.title)[:NOTE_MAX]
        note = Interaction(
            client_id=client.id,
            staff_id=staff_id,
            kind=InteractionKind.NOTE,
            text=text,
            occurred_at=now,
        )
        session.add(note)
        await session.flush()
        interaction_id = note.id
        audit.record(
            session,
            actor="staff",
            staff_id=staff_id,
            action="create",
            entity="interaction",
            entity_id=note.id,
            client_id=client.id,
            after=audit.snapshot(note, ["kind", "text", "occurred_at"]),
        )
    row = repo.add_feedback(
        session,
        client_id=client.id,
        staff_id=staff_id,
        at=now,
        action=action.key,
        playbook=action.playbook,
        strategy=situation.strategy.value if situation.strategy else None,
        answer=feedback,
        reason=reason,
        interaction_id=interaction_id,
    )
    await session.flush()
    if interaction_id is not None:
        await events.client_inputs_changed(session, {client.id})
    return row, shown


async def stats(session: AsyncSession, *, scope: Any, now: datetime, days: int) -> list[Any]:
    """Answers per action over the last `days` days, for the clients in scope."""
    return await repo.feedback_stats(session, scope=scope, since=now - timedelta(days=days))
