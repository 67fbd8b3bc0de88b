"""Churn risk: a 0–100 score from explainable signals, its level, and the value at risk.

Each signal adds up to its weight (config `risk.weights`), scaled between a threshold where it
starts to count and a point where it counts in full; the sum is capped at 100. Levels: `high`
from `risk.high`, `medium` from `risk.medium`, else `low`. Value at risk is the revenue the client
is expected to bring over the horizon if it stays, times (1 − P(alive)).

New clients (younger than `risk.new_client_days`), released and archived clients are not
flagged: score 0, level low, with the reason stated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.domain import RiskLevel, Strategy
from bot.strategies.config import StrategyConfig
from bot.strategies.features import FeatureTable
from bot.strategies.model import Activity
from bot.strategies.reasons import Reason, finite, reason

SIGNALS = (
    "cadence",
    "p_alive",
    "p_alive_drop",
    "revenue_drop",
    "overdue_complaints",
    "low_satisfaction",
    "overdue_steps",
    "no_contact",
)


@dataclass
class RiskResult:
    score: np.ndarray  # int 0–100
    level: np.ndarray  # object array of RiskLevel
    value_at_risk: np.ndarray  # roubles
    points: dict[str, np.ndarray]  # per signal
    flagged: np.ndarray  # False: not flagged (new, released, archived)
    reasons: list[list[Reason]]


def _ramp(value: np.ndarray, start: float, full: float) -> np.ndarray:
    """0 at or below `start`, 1 at or above `full`, linear between; NaN counts as 0."""
    return np.clip(np.nan_to_num((value - start) / (full - start), nan=0.0), 0.0, 1.0)


def signal_points(
    f: FeatureTable, act: Activity, config: StrategyConfig, client_type: np.ndarray
) -> dict[str, np.ndarray]:
    """Points of every signal for every client, before exclusions and the cap."""
    r = config.risk
    w = r.weights
    with np.errstate(invalid="ignore", divide="ignore"):
        cadence = f.days_since_purchase / f.typical_gap
        prev = f.prev_revenue_90
        fall = np.where(prev > 0, (prev - f.revenue_90) / prev, np.nan)
    drop = act.p_alive_30 - act.p_alive
    p = act.p_alive
    contact_days = f.days_since_contact
    # Never contacted counts as "no contact" once the relationship is that old.
    silent = (
        np.where(np.isnan(contact_days), f.relationship_days, contact_days) >= r.no_contact_days
    )
    steady_types = set(r.steady_types)
    steady = np.fromiter((t in steady_types for t in client_type), bool, len(client_type))
    cadence_points = np.where(
        steady,
        _ramp(cadence, r.cadence_from, r.cadence_full),
        _ramp(cadence, r.irregular_cadence_from, r.irregular_cadence_full),
    )
    watched_types = set(r.no_contact_types)
    watched = np.fromiter((t in watched_types for t in client_type), bool, len(client_type))
    satisfaction = f.satisfaction
    return {
        "cadence": w.cadence * cadence_points,
        "p_alive": w.p_alive
        * np.where(np.isnan(p), 0.0, _ramp(r.p_alive_below - p, 0.0, r.p_alive_below)),
        "p_alive_drop": w.p_alive_drop * _ramp(drop, r.drop_from, r.drop_full),
        "revenue_drop": w.revenue_drop * _ramp(fall, r.revenue_from, r.revenue_full),
        "overdue_complaints": np.minimum(
            w.overdue_complaints, r.points_per_overdue_complaint * f.overdue_complaints
        ),
        "low_satisfaction": np.where(
            np.nan_to_num(satisfaction, nan=np.inf) <= r.low_satisfaction, w.low_satisfaction, 0.0
        ),
        "overdue_steps": np.minimum(w.overdue_steps, r.points_per_overdue_step * f.overdue_steps),
        "no_contact": np.where(watched & silent, w.no_contact, 0.0),
    }


def score_risk(
    f: FeatureTable,
    act: Activity,
    config: StrategyConfig,
    client_type: np.ndarray,
    strategy: np.ndarray,
) -> RiskResult:
    """Score, level, value at risk and reasons; `strategy` is the effective one (override wins)."""
    r = config.risk
    points = signal_points(f, act, config, client_type)
    total = np.minimum(100.0, sum(points.values()))
    new = f.relationship_days < r.new_client_days
    released = strategy == Strategy.RELEASE
    archived = f.archived
    flagged = ~(new | released | archived)
    score = np.where(flagged, np.rint(total), 0).astype(np.int64)
    level_code = np.where(score >= r.high, 2, np.where(score >= r.medium, 1, 0))
    level = np.array([RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH], dtype=object)[level_code]
    p = np.nan_to_num(act.p_alive, nan=1.0)
    var = np.where(flagged, act.value_if_alive * (1.0 - p), 0.0)

    reasons = _reasons(f, act, points, client_type, new, released, archived)
    return RiskResult(
        score=score,
        level=level,
        value_at_risk=var,
        points=points,
        flagged=flagged,
        reasons=reasons,
    )


def _reasons(
    f: FeatureTable,
    act: Activity,
    points: dict[str, np.ndarray],
    client_type: np.ndarray,
    new: np.ndarray,
    released: np.ndarray,
    archived: np.ndarray,
) -> list[list[Reason]]:
    """Each client's signals, strongest first, or why it is not flagged, or "no signals"."""
    n = len(f)
    none = [reason("risk_none")]
    reasons: list[list[Reason]] = [none] * n
    matrix = np.column_stack([points[name] for name in SIGNALS]) if n else np.zeros((0, 8))
    excluded = new | released | archived
    # Every (client, signal) with points, grouped by client and strongest first: one sort in
    # numpy instead of one per client in Python.
    rows, cols = np.nonzero((matrix > 0) & ~excluded[:, None])
    values = matrix[rows, cols]
    order = np.lexsort((-values, rows))
    explain = _Explainer(f, act, client_type)
    current, bucket = -1, none
    for i, j, pts in zip(
        rows[order].tolist(), cols[order].tolist(), values[order].tolist(), strict=True
    ):
        if i != current:
            current, bucket = i, []
            reasons[i] = bucket
        bucket.append(explain.one(SIGNALS[j], i, pts))
    days = f.relationship_days.tolist()
    for i in np.flatnonzero(new).tolist():
        reasons[i] = [reason("risk_not_flagged_new", days=int(days[i]))]
    for i in np.flatnonzero(released).tolist():
        reasons[i] = [reason("risk_not_flagged_released")]
    for i in np.flatnonzero(archived).tolist():
        reasons[i] = [reason("risk_not_flagged_archived")]
    return reasons


class _Explainer:
    def __init__(
        self,
        f: FeatureTable,
        act: Activity,
        client_type: np.ndarray,
    ) -> None:
        self.days_since = f.days_since_purchase.tolist()
        self.gap = f.typical_gap.tolist()
        self.p = act.p_alive.tolist()
        self.p30 = act.p_alive_30.tolist()
        self.r90 = f.revenue_90.tolist()
        self.prev90 = f.prev_revenue_90.tolist()
        self.overdue_complaints = f.overdue_complaints.tolist()
        self.satisfaction = f.satisfaction.tolist()
        self.overdue_steps = f.overdue_steps.tolist()
        self.contact = f.days_since_contact.tolist()
        self.client_type = client_type.tolist()

    def one(self, name: str, i: int, pts: float) -> Reason:
        # Plain dict literals: this runs for tens of thousands of clients a night.
        points = round(pts)
        if name == "cadence":
            days, gap = self.days_since[i], self.gap[i]
            return {
                "key": "risk_cadence",
                "params": {"days": int(days), "gap": round(gap), "ratio": round(days / gap, 1)},
                "dec": ["ratio"],
                "points": points,
            }
        if name == "p_alive":
            return {
                "key": "risk_p_alive",
                "params": {"p": round(self.p[i], 4)},
                "pct": ["p"],
                "points": points,
            }
        if name == "p_alive_drop":
            return {
                "key": "risk_p_alive_drop",
                "params": {"before": round(self.p30[i], 4), "now": round(self.p[i], 4)},
                "pct": ["before", "now"],
                "points": points,
            }
        if name == "revenue_drop":
            prev, now = self.prev90[i], self.r90[i]
            return {
                "key": "risk_revenue_drop",
                "params": {
                    "now": round(now),
                    "before": round(prev),
                    "drop": round((prev - now) / prev, 4),
                },
                "money": ["now", "before"],
                "pct": ["drop"],
                "points": points,
            }
        if name == "overdue_complaints":
            n = self.overdue_complaints[i]
            return {"key": "risk_overdue_complaints", "n": n, "points": points}
        if name == "low_satisfaction":
            return {
                "key": "risk_low_satisfaction",
                "params": {"score": round(self.satisfaction[i], 1)},
                "dec": ["score"],
                "points": points,
            }
        if name == "overdue_steps":
            return {"key": "risk_overdue_steps", "n": self.overdue_steps[i], "points": points}
        contact = self.contact[i]
        label = f"type.{self.client_type[i]}"
        if finite(contact):
            return {
                "key": "risk_no_contact",
                "params": {"days": int(contact), "type": label},
                "labels": ["type"],
                "points": points,
            }
        return {
            "key": "risk_never_contacted",
            "params": {"type": label},
            "labels": ["type"],
            "points": points,
        }
