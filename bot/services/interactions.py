"""Logging interactions: the one-line syntax, the writes, corrections within 24 hours.

Every write here only adds to the caller's session (with its audit row and the change event);
the caller commits once, so an interaction, its audit row and whatever subscribers compute
from it are stored together or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dates import DateError, split_trailing_date
from bot.domain import InteractionKind, Outcome
from bot.services import events
from db.models import Complaint, Interaction
from db.repositories import audit
from db.repositories import interactions as interactions_repo

TEXT_MAX = 2000
STEP_MAX = 500  # the next_step column's length
EDIT_WINDOW = timedelta(hours=24)
AUDITED = ["kind", "outcome", "text", "occurred_at", "next_step", "next_step_due", "staff_id"]

KIND_WORDS: dict[str, InteractionKind] = {
    **dict.fromkeys(("call", "phone", "звонок", "звонил", "созвон"), InteractionKind.CALL),
    **dict.fromkeys(("meeting", "meet", "встреча"), InteractionKind.MEETING),
    **dict.fromkeys(("email", "e-mail", "mail", "письмо", "почта"), InteractionKind.EMAIL),
    **dict.fromkeys(("message", "msg", "sms", "chat", "сообщение", "смс"), InteractionKind.MESSAGE),
    **dict.fromkeys(("visit", "визит", "выезд"), InteractionKind.VISIT),
    **dict.fromkeys(("note", "заметка"), InteractionKind.NOTE),
}
OUTCOME_MARKS = {
    "+": Outcome.POSITIVE,
    "=": Outcome.NEUTRAL,
    "-": Outcome.NEGATIVE,
    "−": Outcome.NEGATIVE,
}
NO_ANSWER_TEXTS = frozenset({"no answer", "недозвон", "не дозвонился", "не дозвонилась"})
_CLIENT = re.compile(r"^\s*#?(\d{1,12})(?:\s+|$)(.*)$", re.DOTALL)
_WORD = re.compile(r"^(\S+)(?:\s+|$)(.*)$", re.DOTALL)
# "→ send the PO by Friday", "-> …", "next: …", "далее: …"
NEXT_STEP = re.compile(
    r"\s*(?:→|->|=>|>>|\bnext:|\bдалее:|\bдальше:|\bслед(?:ующий)?\.?\s*шаг:)\s*", re.IGNORECASE
)


@dataclass
class LogLine:
    """What one `/log` line says; None fields are for the guided flow to ask."""

    client_id: int
    kind: InteractionKind | None = None
    outcome: Outcome | None = None
    text: str = ""
    step: str | None = None  # the next step, when the line had a separator
    due: date | None = None
    due_error: str | None = None  # DateError reason of a date the user did write


def parse_log_line(line: str, today: date) -> LogLine | None:
    """'42 call + Discussed renewal → send PO by Friday'; None without a client id first."""
    match = _CLIENT.match(line or "")
    if not match:
        return None
    result = LogLine(client_id=int(match[1]))
    rest = match[2].strip()
    word = _WORD.match(rest)
    if word and (kind := KIND_WORDS.get(word[1].lower().rstrip(":,.;"))) is not None:
        result.kind, rest = kind, word[2].strip()
        mark = _WORD.match(rest)
        if mark and mark[1] in OUTCOME_MARKS:
            result.outcome, rest = OUTCOME_MARKS[mark[1]], mark[2].strip()
    parts = NEXT_STEP.split(rest, maxsplit=1)
    result.text = parts[0].strip()
    if len(parts) == 2:
        try:
            step, result.due = split_trailing_date(parts[1], today)
        except DateError as error:
            step, result.due_error = parts[1].strip(), error.reason
        result.step = step
    if result.outcome is None and result.text.lower().rstrip(".!") in NO_ANSWER_TEXTS:
        result.outcome = Outcome.NO_ANSWER
    return result


class EditRefused(Exception):
    """A correction that is not allowed: reason is gone, not_author, imported or too_late."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_editable(row: Interaction | Complaint, *, staff_id: int, now: datetime) -> None:
    """Only the author, only within 24 hours of logging it, never an imported row."""
    if row.staff_id != staff_id:
        raise EditRefused("not_author")
    if getattr(row, "import_key", None):
        raise EditRefused("imported")
    if now - row.created_at > EDIT_WINDOW:
        raise EditRefused("too_late")


def can_edit(row: Interaction | Complaint, *, staff_id: int, now: datetime) -> bool:
    try:
        check_editable(row, staff_id=staff_id, now=now)
    except EditRefused:
        return False
    return True


def record(
    session: AsyncSession,
    *,
    action: str,
    row: Interaction | Complaint,
    actor_id: int,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Audit a change of an interaction or complaint, stamped with the service clock."""
    entry = audit.record(
        session,
        actor="staff",
        staff_id=actor_id,
        action=action,
        entity=type(row).__name__.lower(),
        entity_id=row.id,
        client_id=row.client_id,
        before=before,
        after=after,
    )
    entry.at = now


async def change(
    session: AsyncSession,
    *,
    row: Interaction | Complaint,
    actor_id: int,
    now: datetime,
    **fields: Any,
) -> None:
    """Set fields, audit what actually changed, tell subscribers."""
    before = audit.snapshot(row, list(fields))
    for name, value in fields.items():
        setattr(row, name, value)
    row.updated_at = now
    session.add(row)
    await session.flush()
    old, new = audit.diff(before, audit.snapshot(row, list(fields)))
    if new:
        record(session, action="update", row=row, actor_id=actor_id, now=now, before=old, after=new)
    await events.client_inputs_changed(session, {row.client_id})


async def log_interaction(
    session: AsyncSession,
    *,
    author_id: int,
    client_id: int,
    kind: InteractionKind,
    outcome: Outcome | None,
    text: str,
    now: datetime,
    step: str | None = None,
    due: date | None = None,
    follow_up_of: int | None = None,
) -> Interaction:
    """Add an interaction (and close the step it follows up), audited."""
    row = Interaction(
        client_id=client_id,
        staff_id=author_id,
        kind=kind,
        outcome=outcome,
        text=text,
        occurred_at=now,
        next_step=step or None,
        next_step_due=due if step else None,
        created_at=now,
        updated_at=now,
    )
    await interactions_repo.add(session, row=row)
    record(
        session,
        action="create",
        row=row,
        actor_id=author_id,
        now=now,
        after=audit.snapshot(row, AUDITED),
    )
    if follow_up_of is not None:
        previous = await session.get(Interaction, follow_up_of)
        if previous and previous.client_id == client_id and previous.next_step_done_at is None:
            await change(session, row=previous, actor_id=author_id, now=now, next_step_done_at=now)
    await events.client_inputs_changed(session, {client_id})
    return row


async def delete(
    session: AsyncSession, *, row: Interaction | Complaint, actor_id: int, now: datetime
):  # type: ignore[no-untyped-def]
    """Delete a logged item; the audit row keeps what it said."""
    fields = AUDITED if isinstance(row, Interaction) else None
    before = audit.snapshot(row, fields)
    record(session, action="delete", row=row, actor_id=actor_id, now=now, before=before)
    await session.delete(row)
    await session.flush()
    await events.client_inputs_changed(session, {row.client_id})
