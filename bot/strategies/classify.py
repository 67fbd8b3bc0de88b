"""Client types (rules in order, first match wins) and the strategy matrix, with reasons.

The rules, in the order they are tried (docs/strategy.md explains each for supervisors):

1. worst     — has bought, and the net 12-month margin (margin after complaint handling costs,
               refunds and invoices unpaid past the write-off period) is at or below
               `worst.max_net_margin`, with some activity or loss in those 12 months.
2. potential — no purchase yet, or the relationship is younger than `potential.new_client_days`.
3. advocate  — brought at least `advocate.min_referrals` clients and is still active.
4. best      — RFM scores at or above `best.min_*_score` (quintiles within the base).
5. regular   — at least `regular.min_purchase_days` purchase days, gaps varying by at most
               `regular.max_gap_variation`, and not more than `regular.max_cadence_ratio` gaps
               since the last purchase.
6. shopper   — at least `shopper.min_discount_share` of purchases on discount and a frequency
               score of at most `shopper.max_frequency_score`.
7. average   — everyone else.

Strategy (profitability now × in the future), first match wins:

- potential                                              → manage
- profitable now and in the future                       → reward_invest
- profitable now only                                    → manage
- unprofitable now, active, sales earn a margin and the
  losses are fixable (complaints, refunds, bad debt)     → collect
- unprofitable now, active, no losses (just quiet)       → manage
- everything else (sells below cost, or no longer active) → release
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.domain import SEGMENT_FOR_STRATEGY, ClientType, SegmentStrategy, Severity, Strategy
from bot.strategies import rfm
from bot.strategies.config import StrategyConfig
from bot.strategies.features import FeatureTable
from bot.strategies.model import Activity, Calibration, activity, expected_margin
from bot.strategies.reasons import Reason, finite, reason

TYPE_ORDER: tuple[ClientType, ...] = (
    ClientType.WORST,
    ClientType.POTENTIAL,
    ClientType.ADVOCATE,
    ClientType.BEST,
    ClientType.REGULAR,
    ClientType.SHOPPER,
    ClientType.AVERAGE,
)


@dataclass
class Profitability:
    """Margins of the last 12 months, in roubles."""

    gross_margin: np.ndarray  # margin of the sales themselves (refunds included)
    complaint_cost: np.ndarray
    written_off: np.ndarray  # invoices unpaid past the write-off period
    net_margin: np.ndarray  # gross − complaint costs − written-off invoices

    @property
    def losses(self) -> np.ndarray:
        return self.complaint_cost + self.written_off


def profitability(f: FeatureTable, config: StrategyConfig) -> Profitability:
    rule = config.classification.worst
    gross = f.margin_12m + f.unknown_margin_12m * rule.default_margin_share
    costs = rule.complaint_cost
    complaint_cost = (
        f.complaints_low * costs.get(Severity.LOW, 0.0)
        + f.complaints_medium * costs.get(Severity.MEDIUM, 0.0)
        + f.complaints_high * costs.get(Severity.HIGH, 0.0)
        + f.complaints_critical * costs.get(Severity.CRITICAL, 0.0)
    )
    return Profitability(
        gross_margin=gross,
        complaint_cost=complaint_cost,
        written_off=f.written_off_amount,
        net_margin=gross - complaint_cost - f.written_off_amount,
    )


@dataclass
class Scores:
    recency: np.ndarray  # 1–5, 0 without purchases
    frequency: np.ndarray
    monetary: np.ndarray


def rfm_scores(f: FeatureTable, calibration: Calibration) -> Scores:
    buyers = f.buyers
    r = rfm.score_lower_better(np.nan_to_num(f.days_since_purchase), calibration.recency_edges)
    fr = rfm.score_higher_better(f.purchases_12m, calibration.frequency_edges)
    m = rfm.score_higher_better(f.revenue_12m, calibration.monetary_edges)
    return Scores(
        recency=np.where(buyers, r, 0),
        frequency=np.where(buyers, fr, 0),
        monetary=np.where(buyers, m, 0),
    )


@dataclass
class Decisions:
    """The outcome for every row of a feature table."""

    client_type: np.ndarray  # object array of ClientType
    strategy: np.ndarray  # object array of Strategy (computed, before any override)
    segment: np.ndarray  # object array of SegmentStrategy
    scores: Scores
    activity: Activity
    profit: Profitability
    expected_margin: np.ndarray
    alive: np.ndarray
    reasons: list[list[Reason]]


def type_masks(
    f: FeatureTable,
    config: StrategyConfig,
    scores: Scores,
    act: Activity,
    profit: Profitability,
) -> list[np.ndarray]:
    """One mask per rule of TYPE_ORDER; the first true one decides (np.select semantics)."""
    c = config.classification
    buyers = f.buyers
    alive = np.nan_to_num(act.p_alive) >= c.alive.p_alive_min
    active_year = (f.purchases_12m > 0) | (profit.losses > 0) | (f.refunds_12m > 0)
    worst = buyers & (profit.net_margin <= c.worst.max_net_margin) & active_year
    potential = ~buyers | (f.relationship_days < c.potential.new_client_days)
    advocate = (f.referrals >= c.advocate.min_referrals) & alive
    best = (
        (scores.recency >= c.best.min_recency_score)
        & (scores.frequency >= c.best.min_frequency_score)
        & (scores.monetary >= c.best.min_monetary_score)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        cadence = f.days_since_purchase / f.typical_gap
    regular = (
        (f.purchase_days >= c.regular.min_purchase_days)
        & (np.nan_to_num(f.gap_variation, nan=np.inf) <= c.regular.max_gap_variation)
        & (np.nan_to_num(cadence, nan=np.inf) <= c.regular.max_cadence_ratio)
    )
    shopper = (
        buyers
        & (f.discount_share >= c.shopper.min_discount_share)
        & (scores.frequency <= c.shopper.max_frequency_score)
    )
    average = np.ones(len(f), dtype=bool)
    return [worst, potential, advocate, best, regular, shopper, average]


STRATEGY_ORDER = (
    "potential",
    "reward_invest",
    "manage",
    "collect",
    "manage_idle",
    "release",
)
_STRATEGY_OF = {
    "potential": Strategy.MANAGE,
    "reward_invest": Strategy.REWARD_INVEST,
    "manage": Strategy.MANAGE,
    "collect": Strategy.COLLECT,
    "manage_idle": Strategy.MANAGE,
    "release": Strategy.RELEASE,
}


def classify(
    f: FeatureTable, calibration: Calibration, config: StrategyConfig, *, facts: bool = False
) -> Decisions:
    """Type, strategy and segment strategy for every client, each with its reasons.

    Each client's reasons are [why this type, why this strategy]; with `facts` (for /why) they
    are followed by the figures behind them (activity, money, RFM scores).
    """
    act = activity(f, calibration, config)
    profit = profitability(f, config)
    scores = rfm_scores(f, calibration)
    masks = type_masks(f, config, scores, act, profit)
    type_code = np.select(masks, np.arange(len(TYPE_ORDER)), default=len(TYPE_ORDER) - 1)
    types = np.array(TYPE_ORDER, dtype=object)[type_code]

    m = config.strategy
    alive = np.nan_to_num(act.p_alive) >= config.classification.alive.p_alive_min
    value = expected_margin(f, act, profit.net_margin)
    now = profit.net_margin > m.min_margin_now
    future_type = np.isin(type_code, [TYPE_ORDER.index(t) for t in m.future_types])
    top_value = value >= calibration.future_value_edge
    declining = np.nan_to_num(f.trend, nan=0.0) < -m.max_decline
    future = alive & ~declining & (future_type | top_value)
    fixable = (profit.losses > 0) | (f.refunds_12m > 0)
    potential = type_code == TYPE_ORDER.index(ClientType.POTENTIAL)
    branch_masks = [
        potential,
        now & future,
        now,
        alive & (profit.gross_margin > 0) & fixable,
        alive & ~fixable & (profit.gross_margin >= 0),
        np.ones(len(f), dtype=bool),
    ]
    branch = np.select(
        branch_masks, np.arange(len(STRATEGY_ORDER)), default=len(STRATEGY_ORDER) - 1
    )
    strategy_lut = np.array([_STRATEGY_OF[b] for b in STRATEGY_ORDER], dtype=object)
    strategies = strategy_lut[branch]
    segment_lut = {s: SEGMENT_FOR_STRATEGY[s] for s in Strategy}
    segments = np.array([segment_lut[s] for s in strategies], dtype=object)

    explain = _Explainer(f, config, calibration, scores, act, profit, value, future_type, declining)
    type_list = types.tolist()
    branch_list = [STRATEGY_ORDER[b] for b in branch.tolist()]
    reasons = [
        [
            explain.type_reason(i, type_list[i]),
            explain.strategy_reason(i, branch_list[i], type_list[i]),
        ]
        for i in range(len(f))
    ]
    if facts:
        for i, own in enumerate(reasons):
            own.extend(explain.facts(i))
    return Decisions(
        client_type=types,
        strategy=strategies,
        segment=segments,
        scores=scores,
        activity=act,
        profit=profit,
        expected_margin=value,
        alive=alive,
        reasons=reasons,
    )


def segment_for(strategy: Strategy | str | None) -> SegmentStrategy | None:
    return SEGMENT_FOR_STRATEGY[Strategy(strategy)] if strategy else None


class _Explainer:
    """Builds the reasons of one row at a time from the arrays the rules used."""

    def __init__(
        self,
        f: FeatureTable,
        config: StrategyConfig,
        calibration: Calibration,
        scores: Scores,
        act: Activity,
        profit: Profitability,
        value: np.ndarray,
        future_type: np.ndarray,
        declining: np.ndarray,
    ) -> None:
        self.f = f
        self.c = config
        self.cal = calibration
        # Plain Python lists: indexing numpy scalars one by one is several times slower.
        self.r = scores.recency.tolist()
        self.fr = scores.frequency.tolist()
        self.m = scores.monetary.tolist()
        self.p = act.p_alive.tolist()
        self.gross = profit.gross_margin.tolist()
        self.net = profit.net_margin.tolist()
        self.cost = profit.complaint_cost.tolist()
        self.value = value.tolist()
        self.future_type = future_type.tolist()
        self.declining = declining.tolist()
        self.trend = f.trend.tolist()
        self.days_since = f.days_since_purchase.tolist()
        self.gap = f.typical_gap.tolist()
        self.cv = f.gap_variation.tolist()
        self.share = f.discount_share.tolist()
        self.rel_days = f.relationship_days.tolist()
        self.unpaid_days = f.unpaid_days.tolist()
        self.purchase_days = f.purchase_days.tolist()
        self.purchases_12m = f.purchases_12m.tolist()
        self.revenue_12m = f.revenue_12m.tolist()
        self.refunds = f.refunds_12m.tolist()
        self.complaints = f.complaints_12m.tolist()
        self.written_off = f.written_off_amount.tolist()
        self.written_off_count = f.written_off_count.tolist()
        self.referrals = f.referrals.tolist()

    # --- parts shared by several reasons ---

    def loss_parts(self, i: int) -> list[Reason]:
        parts = []
        if self.complaints[i]:
            parts.append(
                reason("part_complaints", n=self.complaints[i], money={"cost": self.cost[i]})
            )
        if self.refunds[i] > 0:
            parts.append(reason("part_refunds", money={"amount": self.refunds[i]}))
        if self.written_off_count[i]:
            days = self.unpaid_days[i]
            parts.append(
                reason(
                    "part_unpaid",
                    n=self.written_off_count[i],
                    money={"amount": self.written_off[i]},
                    days=int(days) if finite(days) else 0,
                )
            )
        if self.gross[i] <= 0 and self.purchases_12m[i]:
            parts.append(reason("part_below_cost", money={"margin": self.gross[i]}))
        return parts

    def _pct_alive(self, i: int) -> float:
        p = self.p[i]
        return p if finite(p) else 0.0

    # --- the type ---

    def type_reason(self, i: int, client_type: ClientType) -> Reason:
        if client_type is ClientType.WORST:
            parts = self.loss_parts(i)
            key = "worst" if parts else "worst_plain"
            return reason(key, money={"margin": self.net[i]}, parts=parts)
        if client_type is ClientType.POTENTIAL:
            if not self.purchase_days[i]:
                return reason("potential_lead", days=int(self.rel_days[i]))
            return reason(
                "potential_new",
                days=int(self.rel_days[i]),
                limit=self.c.classification.potential.new_client_days,
            )
        if client_type is ClientType.ADVOCATE:
            return reason("advocate", n=self.referrals[i], pct={"p": self._pct_alive(i)})
        if client_type is ClientType.BEST:
            return reason(
                "best",
                r=self.r[i],
                f=self.fr[i],
                m=self.m[i],
                count=self.purchases_12m[i],
                days=int(self.days_since[i]),
                money={"revenue": self.revenue_12m[i]},
            )
        if client_type is ClientType.REGULAR:
            return reason(
                "regular",
                count=self.purchase_days[i],
                gap=round(self.gap[i]),
                pct={"spread": self.cv[i]},
            )
        if client_type is ClientType.SHOPPER:
            return reason("shopper", f=self.fr[i], pct={"share": self.share[i]})
        return reason("average", r=self.r[i], f=self.fr[i], m=self.m[i])

    # --- the strategy ---

    def strategy_reason(self, i: int, branch: str, client_type: ClientType) -> Reason:
        margin = {"margin": self.net[i]}
        top = 1.0 - self.c.strategy.future_value_quantile
        if branch == "potential":
            return reason("strategy_potential")
        if branch == "reward_invest":
            parts = []
            if self.future_type[i]:
                parts.append(reason("part_future_type", labels={"type": f"type.{client_type}"}))
            else:
                parts.append(
                    reason("part_top_value", money={"value": self.value[i]}, pct={"top": top})
                )
            return reason(
                "strategy_reward_invest", money=margin, pct={"p": self._pct_alive(i)}, parts=parts
            )
        if branch == "manage":
            parts = []
            if self._pct_alive(i) < self.c.classification.alive.p_alive_min:
                parts.append(reason("part_not_alive", pct={"p": self._pct_alive(i)}))
            if self.declining[i]:
                parts.append(reason("part_decline", pct={"drop": -self.trend[i]}))
            if not parts:
                parts.append(
                    reason("part_low_value", money={"value": self.value[i]}, pct={"top": top})
                )
            return reason("strategy_manage", money=margin, parts=parts)
        if branch == "collect":
            return reason(
                "strategy_collect",
                money={**margin, "gross": self.gross[i]},
                parts=self.loss_parts(i),
            )
        if branch == "manage_idle":
            return reason("strategy_manage_idle", money=margin, pct={"p": self._pct_alive(i)})
        parts = []
        if self.gross[i] <= 0 and self.purchases_12m[i]:
            parts.append(reason("part_below_cost", money={"margin": self.gross[i]}))
        if self._pct_alive(i) < self.c.classification.alive.p_alive_min:
            parts.append(reason("part_not_alive", pct={"p": self._pct_alive(i)}))
        if not self.purchases_12m[i]:
            parts.append(reason("part_no_purchases"))
        return reason("strategy_release", money=margin, parts=parts)

    # --- facts for /why ---

    def facts(self, i: int) -> list[Reason]:
        if not self.purchase_days[i]:
            return []
        out = []
        if self.purchase_days[i] == 1:
            out.append(
                reason(
                    "fact_one_time",
                    days=int(self.days_since[i]),
                    half=round(self.c.classification.alive.one_time_half_life_days),
                    pct={"p": self._pct_alive(i)},
                )
            )
        else:
            out.append(
                reason(
                    "fact_activity",
                    count=self.purchase_days[i],
                    days=int(self.days_since[i]),
                    gap=round(self.gap[i]),
                    pct={"p": self._pct_alive(i)},
                )
            )
        money = {"revenue": self.revenue_12m[i], "margin": self.net[i], "gross": self.gross[i]}
        trend = self.trend[i]
        if finite(trend):
            out.append(reason("fact_money", money=money, pct={"trend": trend}))
        else:
            out.append(reason("fact_money_no_trend", money=money))
        out.append(reason("fact_rfm", r=self.r[i], f=self.fr[i], m=self.m[i]))
        return out
