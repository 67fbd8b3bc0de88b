"""Playbooks: recommended actions per strategy, as data in templates/playbooks/<name>.yaml.

One file per per-client strategy (reward_invest, manage, collect, release) and per segment
strategy (loyalty, stimulate, cost_cut). A client sees the actions of its effective strategy's
file plus those of the paired segment strategy's file whose conditions all hold, highest
priority first. Titles and explanations are Jinja2 in Russian and English and may use the
client's facts (see FACTS). Files are loaded and validated once; a bad file raises PlaybookError
naming the file and the action.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, Template, TemplateError

from bot.domain import SEGMENT_FOR_STRATEGY, ClientType, RiskLevel, SegmentStrategy, Strategy

LANGUAGES = ("ru", "en")
PLAYBOOK_NAMES: tuple[str, ...] = (
    *(s.value for s in Strategy),
    *(s.value for s in SegmentStrategy),
)
KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_PRIORITY = 1000


class FeedbackAnswer(StrEnum):
    """What staff answered to a recommended action."""

    DONE = "done"
    NOT_NOW = "not_now"
    NOT_APPLICABLE = "not_applicable"


class PlaybookError(ValueError):
    """A playbook file cannot be used; the message names the file and the action."""


@dataclass(frozen=True)
class Situation:
    """The client's facts the conditions look at (computed fresh when recommending)."""

    client_type: ClientType | None = None
    strategy: Strategy | None = None
    open_complaints: int = 0
    overdue_complaints: int = 0
    complaints_12m: int = 0
    unpaid_invoices: int = 0
    refunds: bool = False
    risk_level: RiskLevel | None = None
    referrals: int = 0
    days_since_contact: int | None = None  # None: never contacted
    days_since_purchase: int | None = None  # None: never bought
    purchases: int = 0  # purchase days, all time
    discount_share: float = 0.0
    overdue_steps: int = 0
    trend: float | None = None
    relationship_days: int = 0
    new_client_days: int = 30


# Condition name → (expected YAML type, test). Conditions of one action must all hold.
CONDITIONS: dict[str, tuple[type | tuple[type, ...], Callable[[Situation, Any], bool]]] = {
    "types": (list, lambda s, v: s.client_type is not None and s.client_type in v),
    "strategies": (list, lambda s, v: s.strategy is not None and s.strategy in v),
    "open_complaint": (bool, lambda s, v: (s.open_complaints > 0) == v),
    "overdue_complaint": (bool, lambda s, v: (s.overdue_complaints > 0) == v),
    "overdue_invoice": (bool, lambda s, v: (s.unpaid_invoices > 0) == v),
    "refunds": (bool, lambda s, v: s.refunds == v),
    "at_risk": (bool, lambda s, v: (s.risk_level in (RiskLevel.MEDIUM, RiskLevel.HIGH)) == v),
    "high_risk": (bool, lambda s, v: (s.risk_level == RiskLevel.HIGH) == v),
    "advocate": (bool, lambda s, v: (s.referrals > 0) == v),
    "had_complaints": (bool, lambda s, v: (s.complaints_12m > 0) == v),
    "never_contacted": (bool, lambda s, v: (s.days_since_contact is None) == v),
    "no_contact_days": (
        int,
        lambda s, v: s.days_since_contact is not None and s.days_since_contact >= v,
    ),
    "contact_within_days": (
        int,
        lambda s, v: s.days_since_contact is not None and s.days_since_contact <= v,
    ),
    "no_purchase_days": (
        int,
        lambda s, v: s.days_since_purchase is not None and s.days_since_purchase >= v,
    ),
    "purchase_within_days": (
        int,
        lambda s, v: s.days_since_purchase is not None and s.days_since_purchase <= v,
    ),
    "no_purchases": (bool, lambda s, v: (s.purchases == 0) == v),
    "one_time_buyer": (bool, lambda s, v: (s.purchases == 1) == v),
    "discount_share_min": ((int, float), lambda s, v: s.purchases > 0 and s.discount_share >= v),
    "overdue_next_step": (bool, lambda s, v: (s.overdue_steps > 0) == v),
    "trend_down": (bool, lambda s, v: (s.trend is not None and s.trend <= -0.2) == v),
    "new_client": (bool, lambda s, v: (s.relationship_days < s.new_client_days) == v),
}
_LIST_VALUES: dict[str, type[StrEnum]] = {"types": ClientType, "strategies": Strategy}

# Facts a title or explanation may use, with sample values for validating the templates.
FACTS: dict[str, str] = {
    "client": "ООО «Ромашка»",
    "complaint_due": "21 ноя. 2026",
    "complaint_count": "1",
    "unpaid_amount": "41 000 ₽",
    "unpaid_count": "1",
    "unpaid_days": "41",
    "referrals": "3",
    "days_since_contact": "12",
    "days_since_purchase": "30",
    "typical_gap": "30",
    "discount_share": "80%",
    "risk_score": "65",
}

_env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class Action:
    key: str
    playbook: str
    priority: int
    order: int  # position in its file, the tie-breaker
    when: Mapping[str, Any]
    title: Mapping[str, Template]
    why: Mapping[str, Template]

    def applies(self, situation: Situation) -> bool:
        return all(CONDITIONS[name][1](situation, value) for name, value in self.when.items())


@dataclass(frozen=True)
class Recommendation:
    """One action for one client, rendered in one language."""

    key: str
    playbook: str
    priority: int
    title: str
    why: str


@dataclass(frozen=True)
class Library:
    """Every playbook, by name (a strategy or segment strategy key)."""

    playbooks: Mapping[str, tuple[Action, ...]]
    by_key: Mapping[str, Action] = field(default_factory=dict)

    def for_strategy(self, strategy: Strategy) -> list[Action]:
        segment = SEGMENT_FOR_STRATEGY[strategy]
        return [*self.playbooks[strategy.value], *self.playbooks[segment.value]]

    def recommend(
        self,
        situation: Situation,
        strategy: Strategy,
        lang: str,
        facts: Mapping[str, Any],
        *,
        hidden: Iterable[str] = (),
        limit: int = 5,
    ) -> list[Recommendation]:
        """The top actions for this situation under `strategy`, rendered in `lang`."""
        skip = set(hidden)
        if situation.strategy is not strategy:
            situation = replace(situation, strategy=strategy)
        names = [strategy.value, SEGMENT_FOR_STRATEGY[strategy].value]
        chosen: dict[str, Action] = {}
        for action in self.for_strategy(strategy):
            if action.key in skip or not action.applies(situation):
                continue
            kept = chosen.get(action.key)
            if kept is None or action.priority > kept.priority:
                chosen[action.key] = action
        ranked = sorted(
            chosen.values(), key=lambda a: (-a.priority, names.index(a.playbook), a.order)
        )
        return [render(a, lang, facts) for a in ranked[:limit]]


def render(action: Action, lang: str, facts: Mapping[str, Any]) -> Recommendation:
    lang = lang if lang in LANGUAGES else LANGUAGES[0]
    values = {**FACTS, **facts}
    return Recommendation(
        key=action.key,
        playbook=action.playbook,
        priority=action.priority,
        title=_one_line(action.title[lang].render(values)),
        why=_one_line(action.why[lang].render(values)),
    )


_SPACES = re.compile(r"[ \t\r\n]+")


def _one_line(text: str) -> str:
    """YAML block text as one line; no-break spaces (in amounts) are kept."""
    return _SPACES.sub(" ", text).strip()


def _texts(raw: Any, where: str, what: str) -> dict[str, Template]:
    if not isinstance(raw, dict) or set(raw) != set(LANGUAGES):
        raise PlaybookError(f"{where}: {what} needs exactly the languages {', '.join(LANGUAGES)}")
    out = {}
    for lang, text in raw.items():
        if not isinstance(text, str) or not text.strip():
            raise PlaybookError(f"{where}: {what}.{lang} must be a non-empty text")
        try:
            template = _env.from_string(text)
            template.render(FACTS)
        except TemplateError as error:
            raise PlaybookError(f"{where}: {what}.{lang}: {error}") from None
        out[lang] = template
    return out


def _conditions(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PlaybookError(f"{where}: 'when' must be a mapping of conditions")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in CONDITIONS:
            known = ", ".join(sorted(CONDITIONS))
            raise PlaybookError(f"{where}: unknown condition {name!r} (known: {known})")
        expected = CONDITIONS[name][0]
        if isinstance(value, bool) and expected is not bool:
            raise PlaybookError(f"{where}: condition {name!r} expects a number or a list")
        if not isinstance(value, expected):
            raise PlaybookError(f"{where}: condition {name!r} has a value of the wrong kind")
        if name in _LIST_VALUES:
            enum = _LIST_VALUES[name]
            try:
                value = frozenset(enum(v) for v in value)
            except ValueError:
                allowed = ", ".join(m.value for m in enum)
                raise PlaybookError(f"{where}: {name} may list only {allowed}") from None
        out[name] = value
    return out


def parse_playbook(name: str, data: Any, source: str) -> tuple[Action, ...]:
    """Validate one playbook's content; `source` names it in errors."""
    if not isinstance(data, dict) or not isinstance(data.get("actions"), list):
        raise PlaybookError(f"{source}: expected a mapping with a list of 'actions'")
    if data.get("playbook", name) != name:
        raise PlaybookError(f"{source}: says playbook {data.get('playbook')!r}, file is {name!r}")
    unknown = set(data) - {"playbook", "actions", "description"}
    if unknown:
        raise PlaybookError(f"{source}: unknown top-level keys {sorted(unknown)}")
    actions = []
    seen: set[str] = set()
    for order, item in enumerate(data["actions"]):
        key = item.get("key") if isinstance(item, dict) else None
        where = f"{source}: action {key or f'#{order + 1}'}"
        if not isinstance(item, dict) or not isinstance(key, str) or not KEY.match(key):
            raise PlaybookError(f"{where}: needs a key of 1–32 lower-case letters, digits and _")
        if key in seen:
            raise PlaybookError(f"{where}: the key is used twice in this file")
        seen.add(key)
        extra = set(item) - {"key", "priority", "when", "title", "why"}
        if extra:
            raise PlaybookError(f"{where}: unknown fields {sorted(extra)}")
        priority = item.get("priority")
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise PlaybookError(f"{where}: priority must be a whole number 0–{MAX_PRIORITY}")
        if not 0 <= priority <= MAX_PRIORITY:
            raise PlaybookError(f"{where}: priority must be a whole number 0–{MAX_PRIORITY}")
        actions.append(
            Action(
                key=key,
                playbook=name,
                priority=priority,
                order=order,
                when=_conditions(item.get("when"), where),
                title=_texts(item.get("title"), where, "title"),
                why=_texts(item.get("why"), where, "why"),
            )
        )
    if not actions:
        raise PlaybookError(f"{source}: has no actions")
    return tuple(actions)


def load_library(directory: Path) -> Library:
    """Every playbook under `directory`; all seven must be there and valid."""
    playbooks: dict[str, tuple[Action, ...]] = {}
    for name in PLAYBOOK_NAMES:
        path = directory / f"{name}.yaml"
        if not path.is_file():
            raise PlaybookError(f"{path}: missing (one playbook per strategy is required)")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise PlaybookError(f"{path}: cannot read it: {first}") from None
        playbooks[name] = parse_playbook(name, data, path.name)
    by_key: dict[str, Action] = {}
    for actions in playbooks.values():
        for action in actions:
            by_key.setdefault(action.key, action)
    return Library(playbooks=playbooks, by_key=by_key)


@lru_cache(maxsize=4)
def library(directory: str) -> Library:
    """The playbooks of `directory`, loaded once per process."""
    return load_library(Path(directory))
