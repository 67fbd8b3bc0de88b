"""The product's vocabulary, as in shared/docs/domain.md: plain enums, no I/O."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MANAGER = "manager"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class ClientStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class ClientType(StrEnum):
    POTENTIAL = "potential"
    REGULAR = "regular"
    BEST = "best"
    SHOPPER = "shopper"
    ADVOCATE = "advocate"
    AVERAGE = "average"
    WORST = "worst"


class Strategy(StrEnum):
    """Per-client relationship strategies: profitability now × profitability in the future."""

    REWARD_INVEST = "reward_invest"
    MANAGE = "manage"
    COLLECT = "collect"
    RELEASE = "release"


class SegmentStrategy(StrEnum):
    LOYALTY = "loyalty"
    STIMULATE = "stimulate"
    COST_CUT = "cost_cut"


class Programme(StrEnum):
    """Company-level programmes under which the per-client strategies run."""

    CRM = "crm"
    CHANGE = "change"
    LONG_TERM = "long_term"


SEGMENT_FOR_STRATEGY: dict[Strategy, SegmentStrategy] = {
    Strategy.REWARD_INVEST: SegmentStrategy.LOYALTY,
    Strategy.MANAGE: SegmentStrategy.STIMULATE,
    Strategy.COLLECT: SegmentStrategy.COST_CUT,
    Strategy.RELEASE: SegmentStrategy.COST_CUT,
}


class InteractionKind(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    MESSAGE = "message"
    VISIT = "visit"
    NOTE = "note"


class Outcome(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    NO_ANSWER = "no_answer"


class ComplaintCategory(StrEnum):
    QUALITY = "quality"
    DELIVERY = "delivery"
    BILLING = "billing"
    SERVICE = "service"
    OTHER = "other"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ComplaintStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Who counts as "at risk" everywhere (digest, summaries, exports): medium and high churn risk.
AT_RISK_LEVELS: frozenset[RiskLevel] = frozenset({RiskLevel.MEDIUM, RiskLevel.HIGH})
