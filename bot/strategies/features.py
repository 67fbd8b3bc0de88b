"""The feature table: one row per client, as parallel numpy arrays (no database here).

Dates are day numbers (days since 1970-01-01; `today` is the company's local date) and moments
fractional day numbers in UTC. Money is in roubles (float: analytics, not bookkeeping). Missing
values are NaN. The database layer (db/repositories/features.py) fills the table with a few
GROUP BY queries; tests build it by hand with `FeatureTable.build`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

import numpy as np

EPOCH = date(1970, 1, 1)
DAYS_PER_YEAR = 365
SEVERITY_COLUMNS = ("complaints_low", "complaints_medium", "complaints_high", "complaints_critical")


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - EPOCH).days


def moment_number(moment: datetime) -> float:
    """Fractional days since 1970-01-01 00:00 UTC."""
    return moment.timestamp() / 86_400.0


def _floats(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _ints(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int64)


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.float64)


@dataclass
class FeatureTable:
    """Everything the rules look at, per client. Build with `FeatureTable.build(today, now, n)`."""

    today: int
    now: float
    client_id: np.ndarray
    # --- the client row
    created: np.ndarray  # moment of registration
    archived: np.ndarray
    referrals: np.ndarray  # clients who name this one as their referrer
    stored_type: np.ndarray  # what the last run decided (object: str or None)
    stored_strategy: np.ndarray
    override: np.ndarray  # manual strategy (object: str or None)
    stored_level: np.ndarray  # risk level of the last run (object: str or None)
    # --- purchases (sales with a positive amount); refunds are negative sales
    purchase_days: np.ndarray  # distinct days with a purchase, all time
    purchases: np.ndarray  # sales with a positive amount (classification only)
    first_purchase: np.ndarray
    last_purchase: np.ndarray
    purchase_amount: np.ndarray  # sum of purchases, all time
    revenue_90: np.ndarray  # net of refunds, last 90 days
    revenue_180: np.ndarray
    # --- money of the last 12 months (classification only)
    revenue_12m: np.ndarray
    revenue_6m: np.ndarray
    margin_12m: np.ndarray  # known margins, refunds included
    unknown_margin_12m: np.ndarray  # amount of sales without a margin
    refunds_12m: np.ndarray  # refunded amount (positive)
    refund_count_12m: np.ndarray
    purchases_12m: np.ndarray
    discounted: np.ndarray  # purchases on discount, all time
    unpaid_count: np.ndarray  # unpaid invoices past due
    unpaid_amount: np.ndarray
    oldest_unpaid_due: np.ndarray
    written_off_count: np.ndarray  # unpaid longer than the write-off period
    written_off_amount: np.ndarray
    # --- gaps between purchase days
    gap_count: np.ndarray
    gap_sum: np.ndarray
    gap_sqsum: np.ndarray
    # --- complaints
    complaints_12m: np.ndarray
    complaints_low: np.ndarray
    complaints_medium: np.ndarray
    complaints_high: np.ndarray
    complaints_critical: np.ndarray
    open_complaints: np.ndarray
    overdue_complaints: np.ndarray
    next_complaint_due: np.ndarray
    satisfaction_sum: np.ndarray
    satisfaction_n: np.ndarray
    # --- interactions
    last_contact: np.ndarray
    overdue_steps: np.ndarray

    def __len__(self) -> int:
        return len(self.client_id)

    @classmethod
    def build(cls, today: date | int, now: datetime | float, client_ids: Any) -> FeatureTable:
        """An all-empty table for these clients (no purchases, no complaints, no contacts)."""
        ids = np.asarray(client_ids, dtype=np.int64)
        n = len(ids)
        today_n = day_number(today) if isinstance(today, date) else int(today)
        now_n = moment_number(now) if isinstance(now, datetime) else float(now)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in ("today", "now", "client_id"):
                continue
            if f.name in ("stored_type", "stored_strategy", "override", "stored_level"):
                values[f.name] = np.full(n, None, dtype=object)
            elif f.name == "archived":
                values[f.name] = np.zeros(n, dtype=bool)
            elif f.name == "created":
                values[f.name] = np.full(n, now_n)
            elif f.name in _NAN_FIELDS:
                values[f.name] = _floats(n)
            elif f.name in _INT_FIELDS:
                values[f.name] = _ints(n)
            else:
                values[f.name] = _zeros(n)
        return cls(today=today_n, now=now_n, client_id=ids, **values)

    def take(self, index: np.ndarray) -> FeatureTable:
        """The rows at `index` (a boolean mask or positions), as a new table."""
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = value[index] if isinstance(value, np.ndarray) else value
        return FeatureTable(**values)

    # --- derived figures ---------------------------------------------------------------------

    @property
    def buyers(self) -> np.ndarray:
        return self.purchase_days > 0

    @property
    def days_since_purchase(self) -> np.ndarray:
        return np.maximum(self.today - self.last_purchase, 0.0)

    @property
    def days_since_contact(self) -> np.ndarray:
        """Whole days since the last interaction (NaN: never)."""
        return np.floor(np.maximum(self.now - self.last_contact, 0.0))

    @property
    def relationship_days(self) -> np.ndarray:
        """Days since the client appeared: registration or first purchase, whichever came first."""
        created_day = np.floor(self.created)
        start = np.fmin(created_day, self.first_purchase)
        return np.maximum(self.today - start, 0.0)

    @property
    def typical_gap(self) -> np.ndarray:
        """Average days between purchase days (NaN for fewer than two), at least one day."""
        spans = self.last_purchase - self.first_purchase
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = spans / (self.purchase_days - 1)
        return np.where(self.purchase_days >= 2, np.maximum(gap, 1.0), np.nan)

    @property
    def gap_variation(self) -> np.ndarray:
        """Coefficient of variation of the gaps between purchase days (NaN below two gaps)."""
        n = self.gap_count.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.gap_sum / n
            var = np.maximum(self.gap_sqsum / n - mean * mean, 0.0)
            cv = np.sqrt(var) / mean
        return np.where((n >= 2) & (mean > 0), cv, np.nan)

    @property
    def discount_share(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            share = self.discounted / self.purchases
        return np.where(self.purchases > 0, share, 0.0)

    @property
    def prev_revenue_6m(self) -> np.ndarray:
        return self.revenue_12m - self.revenue_6m

    @property
    def prev_revenue_90(self) -> np.ndarray:
        return self.revenue_180 - self.revenue_90

    @property
    def trend(self) -> np.ndarray:
        """Revenue of the last 6 months against the 6 before, as a change (NaN: no base)."""
        prev = self.prev_revenue_6m
        with np.errstate(invalid="ignore", divide="ignore"):
            change = (self.revenue_6m - prev) / prev
        return np.where(prev > 0, change, np.nan)

    @property
    def satisfaction(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = self.satisfaction_sum / self.satisfaction_n
        return np.where(self.satisfaction_n > 0, avg, np.nan)

    @property
    def unpaid_days(self) -> np.ndarray:
        """Days the oldest unpaid invoice is past due (NaN: none)."""
        return self.today - self.oldest_unpaid_due

    @property
    def mean_purchase(self) -> np.ndarray:
        """Average revenue of a purchase day (the unit BG/NBD counts)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.purchase_amount / self.purchase_days
        return np.where(self.purchase_days > 0, mean, 0.0)


_NAN_FIELDS = {
    "first_purchase",
    "last_purchase",
    "oldest_unpaid_due",
    "next_complaint_due",
    "last_contact",
}
_INT_FIELDS = {
    "referrals",
    "purchase_days",
    "purchases",
    "refund_count_12m",
    "purchases_12m",
    "discounted",
    "unpaid_count",
    "written_off_count",
    "gap_count",
    "complaints_12m",
    *SEVERITY_COLUMNS,
    "open_complaints",
    "overdue_complaints",
    "satisfaction_n",
    "overdue_steps",
}
