"""Base-wide calibration (BG/NBD fit, RFM edges) and each client's activity: P(alive) and value.

The nightly run calibrates on the whole base and stores the result; recomputing one client later
reuses it, so a single sale never refits the model or moves the quintiles.

P(alive) comes from BG/NBD for clients with repeat purchases (time unit: weeks). BG/NBD treats a
one-time buyer as certainly alive, so one-time buyers get a cadence rule instead: their P(alive)
halves every `one_time_half_life_days` since the purchase.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bot.strategies import rfm
from bot.strategies.bgnbd import BGNBD
from bot.strategies.config import StrategyConfig
from bot.strategies.features import FeatureTable

log = logging.getLogger(__name__)
WEEK = 7.0
DROP_WINDOW_DAYS = 30
YEAR_WEEKS = 365.0 / WEEK


@dataclass(frozen=True)
class Calibration:
    """What one client's scores depend on besides its own data: the base's model and edges."""

    r: float
    alpha: float
    a: float
    b: float
    fitted: bool  # False: too few repeat buyers, the configured defaults were used
    log_likelihood: float | None
    recency_edges: rfm.Edges
    frequency_edges: rfm.Edges
    monetary_edges: rfm.Edges
    future_value_edge: float
    buyers: int

    @property
    def model(self) -> BGNBD:
        return BGNBD(self.r, self.alpha, self.a, self.b, self.log_likelihood or 0.0)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        values = dict(data)
        for key in ("recency_edges", "frequency_edges", "monetary_edges"):
            values[key] = tuple(float(v) for v in values[key])
        return cls(**values)


@dataclass
class Activity:
    """Per client: P(alive) now and 30 days ago, expected purchases and value over the horizon."""

    p_alive: np.ndarray  # NaN for clients without purchases
    p_alive_30: np.ndarray  # NaN where a purchase within the last 30 days reset the clock
    expected_purchases: np.ndarray  # over the horizon, weighted by P(alive)
    value_if_alive: np.ndarray  # expected revenue over the horizon if the client stays


def bgnbd_inputs(
    purchase_days: np.ndarray, first: np.ndarray, last: np.ndarray, as_of: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequency, recency, T) in weeks for clients with a purchase by `as_of` (day number)."""
    first = np.minimum(first, as_of)
    last = np.clip(last, first, as_of)
    x = np.maximum(purchase_days - 1, 0).astype(np.float64)
    t_x = np.where(x > 0, (last - first) / WEEK, 0.0)
    age = (as_of - first) / WEEK
    return x, t_x, age


def _half_life(days: np.ndarray, half_life: float) -> np.ndarray:
    return np.power(0.5, np.maximum(days, 0.0) / half_life)


def _p_alive(
    model: BGNBD,
    purchase_days: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    as_of: float,
    half_life: float,
) -> np.ndarray:
    """P(alive) at `as_of` for every row (NaN where nothing was bought by then)."""
    out = np.full(len(purchase_days), np.nan)
    has = (purchase_days > 0) & ~np.isnan(first) & (first <= as_of)
    if not has.any():
        return out
    x, t_x, age = bgnbd_inputs(purchase_days[has], first[has], last[has], as_of)
    p = model.p_alive(x, t_x, age)
    one_time = x == 0
    p[one_time] = _half_life(as_of - np.minimum(last[has][one_time], as_of), half_life)
    out[has] = p
    return out


def activity(features: FeatureTable, calibration: Calibration, config: StrategyConfig) -> Activity:
    """P(alive), its value 30 days ago, and the expected purchases and value ahead."""
    f = features
    model = calibration.model
    half_life = config.classification.alive.one_time_half_life_days
    p_now = _p_alive(model, f.purchase_days, f.first_purchase, f.last_purchase, f.today, half_life)
    # 30 days ago the history was the same for clients who have not bought since; a purchase
    # within the last 30 days means no drop to speak of (NaN: the signal does not apply).
    before = f.today - DROP_WINDOW_DAYS
    quiet = f.last_purchase <= before
    p_30 = _p_alive(model, f.purchase_days, f.first_purchase, f.last_purchase, before, half_life)
    p_30 = np.where(quiet, p_30, np.nan)
    n = len(f)
    expected = np.zeros(n)
    if_alive = np.zeros(n)
    has = f.purchase_days > 0
    if has.any():
        horizon = config.risk.value_horizon_days / WEEK
        x, t_x, age = bgnbd_inputs(
            f.purchase_days[has], f.first_purchase[has], f.last_purchase[has], f.today
        )
        weighted = model.expected_purchases(horizon, x, t_x, age)
        model_alive = model.p_alive(x, t_x, age)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            conditional = np.where(model_alive > 1e-12, weighted / model_alive, 0.0)
        conditional = np.nan_to_num(conditional, nan=0.0, posinf=0.0)
        expected[has] = conditional * p_now[has]
        if_alive[has] = conditional * f.mean_purchase[has]
    return Activity(
        p_alive=p_now, p_alive_30=p_30, expected_purchases=expected, value_if_alive=if_alive
    )


def fit_model(
    features: FeatureTable, config: StrategyConfig, previous: Calibration | None
) -> tuple[BGNBD, bool]:
    """BG/NBD fitted on every client with a purchase (and True), or the defaults (and False)."""
    f = features
    has = f.purchase_days > 0
    x, t_x, age = bgnbd_inputs(
        f.purchase_days[has], f.first_purchase[has], f.last_purchase[has], f.today
    )
    m = config.model
    if int((x > 0).sum()) < m.min_repeat_buyers:
        return BGNBD(m.default_r, m.default_alpha, m.default_a, m.default_b, 0.0), False
    initial = None
    if previous is not None and previous.fitted:
        initial = (previous.r, previous.alpha, previous.a, previous.b)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = BGNBD.fit(x, t_x, age, initial=initial)
    for warning in caught:
        log.info("BG/NBD: %s", warning.message)
    return fitted, True


def calibrate(
    features: FeatureTable,
    config: StrategyConfig,
    previous: Calibration | None = None,
    *,
    net_margin_12m: np.ndarray,
) -> Calibration:
    """Fit the base: BG/NBD, RFM edges, and the edge of the top expected 12-month margins."""
    f = features
    model, fitted = fit_model(f, config, previous)
    buyers = f.purchase_days > 0
    partial = Calibration(
        r=model.r,
        alpha=model.alpha,
        a=model.a,
        b=model.b,
        fitted=fitted,
        log_likelihood=model.log_likelihood if fitted else None,
        recency_edges=rfm.edges(f.days_since_purchase[buyers]),
        frequency_edges=rfm.edges(f.purchases_12m[buyers].astype(np.float64)),
        monetary_edges=rfm.edges(f.revenue_12m[buyers]),
        future_value_edge=0.0,
        buyers=int(buyers.sum()),
    )
    act = activity(f, partial, config)
    values = expected_margin(f, act, net_margin_12m)[buyers]
    q = config.strategy.future_value_quantile * 100.0
    edge = float(np.percentile(values, q)) if values.size else 0.0
    return Calibration(**{**partial.as_json(), "future_value_edge": edge})


def expected_margin(f: FeatureTable, act: Activity, net_margin_12m: np.ndarray) -> np.ndarray:
    """Expected margin over the horizon: expected purchases × the net margin per purchase."""
    with np.errstate(invalid="ignore", divide="ignore"):
        per_purchase = np.where(f.purchases_12m > 0, net_margin_12m / f.purchases_12m, 0.0)
    return act.expected_purchases * per_purchase
