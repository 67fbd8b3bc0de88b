"""The strategy engine's thresholds and weights: defaults here, overrides from one YAML/TOML file.

One file (``CRM_STRATEGY_CONFIG``) holds the classification thresholds, the strategy matrix,
the risk weights and the playbook settings; any key left out keeps its default. docs/strategy.md
describes every key. A bad file fails with one line per problem naming the file and the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.domain import ClientType, Severity


class StrategyConfigError(ValueError):
    """The strategy configuration file cannot be used; the message names file and key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorstRule(_Section):
    """`worst`: no positive 12-month margin once complaints, refunds and bad debt are counted."""

    # What handling one complaint costs, by severity, in roubles.
    complaint_cost: dict[Severity, float] = Field(
        default_factory=lambda: {
            Severity.LOW: 500.0,
            Severity.MEDIUM: 2_000.0,
            Severity.HIGH: 5_000.0,
            Severity.CRITICAL: 12_000.0,
        }
    )
    # An unpaid invoice this many days past its due date counts as lost money.
    unpaid_write_off_days: int = Field(default=30, ge=0, le=3650)
    # Sales imported without a margin are assumed to earn this share of their amount.
    default_margin_share: float = Field(default=0.2, ge=-1.0, le=1.0)
    # Worst when the net 12-month margin is at or below this, in roubles.
    max_net_margin: float = 0.0


class PotentialRule(_Section):
    """`potential`: no purchase yet, or a single purchase within the first days."""

    new_client_days: int = Field(default=30, ge=0, le=365)


class AliveRule(_Section):
    """When a client counts as still active (P(alive) from BG/NBD; a half-life for one-timers)."""

    p_alive_min: float = Field(default=0.5, ge=0.0, le=1.0)
    one_time_half_life_days: float = Field(default=90.0, gt=0, le=3650)


class AdvocateRule(_Section):
    min_referrals: int = Field(default=1, ge=1, le=1000)


class BestRule(_Section):
    """`best`: top quintiles (1–5, 5 = top fifth of the base) of recency, frequency and value."""

    min_recency_score: int = Field(default=4, ge=1, le=5)
    min_frequency_score: int = Field(default=5, ge=1, le=5)
    min_monetary_score: int = Field(default=5, ge=1, le=5)


class RegularRule(_Section):
    """`regular`: enough purchases at a steady cadence, and not long past the usual gap."""

    min_purchase_days: int = Field(default=5, ge=3, le=1000)
    max_gap_variation: float = Field(default=0.35, gt=0, le=10)
    max_cadence_ratio: float = Field(default=6.0, gt=1, le=100)


class ShopperRule(_Section):
    """`shopper`: mostly discounted purchases, and infrequent ones."""

    min_discount_share: float = Field(default=0.5, ge=0.0, le=1.0)
    max_frequency_score: int = Field(default=3, ge=1, le=5)


class Classification(_Section):
    worst: WorstRule = WorstRule()
    potential: PotentialRule = PotentialRule()
    alive: AliveRule = AliveRule()
    advocate: AdvocateRule = AdvocateRule()
    best: BestRule = BestRule()
    regular: RegularRule = RegularRule()
    shopper: ShopperRule = ShopperRule()


class StrategyMatrix(_Section):
    """Profitability now × profitability in the future."""

    # Profitable now: net 12-month margin (after losses) above this, in roubles.
    min_margin_now: float = 0.0
    # Profitable in the future: alive, revenue not falling faster than this share over the last
    # six months, and either one of these types or an expected 12-month margin in the top of
    # the base (at or above this quantile of clients with purchases).
    max_decline: float = Field(default=0.3, ge=0.0, le=1.0)
    future_types: tuple[ClientType, ...] = (
        ClientType.BEST,
        ClientType.REGULAR,
        ClientType.ADVOCATE,
    )
    future_value_quantile: float = Field(default=0.6, ge=0.0, le=1.0)


class RiskWeights(_Section):
    """Points each signal adds at full strength (the score is capped at 100)."""

    cadence: float = Field(default=45.0, ge=0, le=100)
    p_alive: float = Field(default=20.0, ge=0, le=100)
    p_alive_drop: float = Field(default=10.0, ge=0, le=100)
    revenue_drop: float = Field(default=20.0, ge=0, le=100)
    overdue_complaints: float = Field(default=20.0, ge=0, le=100)
    low_satisfaction: float = Field(default=10.0, ge=0, le=100)
    overdue_steps: float = Field(default=10.0, ge=0, le=100)
    no_contact: float = Field(default=10.0, ge=0, le=100)


class Risk(_Section):
    weights: RiskWeights = RiskWeights()
    medium: int = Field(default=30, ge=1, le=100)
    high: int = Field(default=60, ge=1, le=100)
    # Cadence: days since the last purchase over the client's own average gap. Clients of the
    # steady types start to count at `cadence_from` gaps; everyone else, whose gaps vary a lot
    # by nature, at `irregular_cadence_from`.
    cadence_from: float = Field(default=1.5, gt=0)
    cadence_full: float = Field(default=3.5, gt=0)
    steady_types: tuple[ClientType, ...] = (
        ClientType.BEST,
        ClientType.REGULAR,
        ClientType.ADVOCATE,
    )
    irregular_cadence_from: float = Field(default=3.0, gt=0)
    irregular_cadence_full: float = Field(default=6.0, gt=0)
    # P(alive) below this starts to count, in full at zero.
    p_alive_below: float = Field(default=0.6, gt=0, le=1)
    # A fall of P(alive) over 30 days, counted from `drop_from`, in full at `drop_full`.
    drop_from: float = Field(default=0.1, ge=0, le=1)
    drop_full: float = Field(default=0.5, gt=0, le=1)
    # Revenue of the last 90 days against the 90 before: a fall from `revenue_from` counts,
    # in full at `revenue_full` (1.0 = nothing bought at all).
    revenue_from: float = Field(default=0.3, ge=0, le=1)
    revenue_full: float = Field(default=1.0, gt=0, le=1)
    points_per_overdue_complaint: float = Field(default=10.0, ge=0, le=100)
    # Average satisfaction (1–5) of the last 12 months' complaints at or below this.
    low_satisfaction: float = Field(default=2.5, ge=1, le=5)
    points_per_overdue_step: float = Field(default=5.0, ge=0, le=100)
    no_contact_days: int = Field(default=45, ge=1, le=3650)
    no_contact_types: tuple[ClientType, ...] = (ClientType.BEST, ClientType.REGULAR)
    # Clients younger than this (days since their first purchase or registration) are not
    # flagged; nor are released clients.
    new_client_days: int = Field(default=30, ge=0, le=365)
    # Forecast horizon of the value at risk, in days.
    value_horizon_days: int = Field(default=365, ge=7, le=3650)

    @model_validator(mode="after")
    def _ordered(self) -> Risk:
        if self.medium >= self.high:
            raise ValueError("medium must be below high")
        if self.cadence_from >= self.cadence_full:
            raise ValueError("cadence_from must be below cadence_full")
        if self.irregular_cadence_from >= self.irregular_cadence_full:
            raise ValueError("irregular_cadence_from must be below irregular_cadence_full")
        if self.drop_from >= self.drop_full:
            raise ValueError("drop_from must be below drop_full")
        if self.revenue_from >= self.revenue_full:
            raise ValueError("revenue_from must be below revenue_full")
        return self


class Model(_Section):
    """The BG/NBD fit: below this many repeat buyers the defaults (weekly units) are used."""

    min_repeat_buyers: int = Field(default=30, ge=2)
    default_r: float = Field(default=0.5, gt=0)
    default_alpha: float = Field(default=10.0, gt=0)
    default_a: float = Field(default=0.8, gt=0)
    default_b: float = Field(default=3.0, gt=0)


class Playbooks(_Section):
    on_card: int = Field(default=3, ge=0, le=10)
    on_recommend: int = Field(default=5, ge=1, le=20)
    # An answered action stays hidden for this many days.
    hide_done_days: int = Field(default=7, ge=0, le=365)
    hide_not_now_days: int = Field(default=3, ge=0, le=365)
    hide_not_applicable_days: int = Field(default=30, ge=0, le=3650)


class StrategyConfig(_Section):
    """Everything the strategy engine can be told; every field has a default."""

    classification: Classification = Classification()
    strategy: StrategyMatrix = StrategyMatrix()
    risk: Risk = Risk()
    model: Model = Model()
    playbooks: Playbooks = Playbooks()


DEFAULT = StrategyConfig()


def _read(path: Path) -> Any:
    text = path.read_bytes()
    if path.suffix.lower() == ".toml":
        return tomllib.loads(text.decode("utf-8"))
    if path.suffix.lower() in (".yaml", ".yml"):
        return yaml.safe_load(text) or {}
    raise StrategyConfigError(f"{path}: expected a .yaml, .yml or .toml file")


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_config(data: Any, source: str = "strategy config") -> StrategyConfig:
    """Validate a mapping against the schema; errors name the key and what it expects."""
    if not isinstance(data, dict):
        raise StrategyConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return StrategyConfig.model_validate(data)
    except ValidationError as error:
        lines = []
        for item in error.errors():
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{source}: {_where(item['loc'])}: {message}; got {item.get('input')!r}")
        raise StrategyConfigError("\n".join(lines)) from None


def load_config(path: Path | str | None) -> StrategyConfig:
    """The configuration from `path` over the defaults; the defaults alone when `path` is None."""
    if path is None:
        return DEFAULT
    path = Path(path)
    try:
        data = _read(path)
    except OSError as error:
        raise StrategyConfigError(f"{path}: cannot read it ({error.strerror})") from None
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StrategyConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {first}") from None
    return parse_config(data, str(path))
