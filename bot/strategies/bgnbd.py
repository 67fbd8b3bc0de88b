"""BG/NBD model of repeat buying and customer dropout.

Implements the beta-geometric/negative-binomial distribution model from
P. S. Fader, B. G. S. Hardie and K. L. Lee (2005), "'Counting Your Customers' the Easy Way:
An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284.

Every customer is summarised by ``(x, t_x, T)``: ``x`` repeat purchases (``frequency``), the
last at time ``t_x`` (``recency``) after the first purchase, observed for ``T`` periods since
the first purchase. All three must share one time unit (e.g. weeks).

While active a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; after
each repeat purchase they drop out with probability ``p ~ Beta(a, b)``. Because dropout can only
follow a repeat purchase, the model considers a customer with ``x == 0`` certainly alive
(``p_alive == 1``) however long ago they bought. Callers must handle one-time buyers with a
separate rule (e.g. a cadence threshold) rather than trust ``p_alive`` for them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

FloatArray = NDArray[np.float64]

# Log-parameter box: wide enough for any sane customer base, narrow enough that exp() and the
# special functions stay finite when the optimiser probes extreme points.
_LOG_BOUND = 20.0


@dataclass(frozen=True)
class _Summary:
    """Distinct (x, t_x, T) rows with their multiplicities, plus the distinct x values."""

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weight: FloatArray
    # The gamma/beta terms depend on x alone, and a base has few distinct purchase counts.
    x_values: FloatArray
    x_index: NDArray[np.intp]


@dataclass(frozen=True)
class BGNBD:
    """Fitted BG/NBD model (Fader, Hardie & Lee 2005).

    One-time buyers (``frequency == 0``) always get ``p_alive == 1`` under this model, so callers
    must judge them with a cadence rule instead.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    @classmethod
    def fit(
        cls,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        *,
        initial: Sequence[float] | None = None,
    ) -> BGNBD:
        """Fit (r, alpha, a, b) by maximum likelihood (paper eq. 6) on per-customer summaries."""
        x, t_x, age = _validated(frequency, recency, T)
        if x.size == 0:
            raise ValueError("cannot fit BG/NBD on empty input")
        summary = _aggregate(x, t_x, age)
        start = _initial_log_params(summary, initial)
        result = minimize(
            _neg_mean_log_likelihood,
            start,
            args=(summary,),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
            options={"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9},
        )
        if not result.success:
            # L-BFGS-B sometimes stops in the line search right at the optimum; report it and let
            # the caller decide, the estimate is usually still usable.
            warnings.warn(
                f"BG/NBD fit did not report convergence: {result.message}",
                RuntimeWarning,
                stacklevel=2,
            )
        r, alpha, a, b = (float(v) for v in np.exp(result.x))
        total = float(summary.weight.sum())
        return cls(r=r, alpha=alpha, a=a, b=b, log_likelihood=-float(result.fun) * total)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability each customer is still active at age T (1 for one-time buyers)."""
        x, t_x, age = _validated(frequency, recency, T)
        return _as_float_array(np.exp(-np.logaddexp(0.0, self._log_dropout_odds(x, t_x, age))))

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected repeat purchases in the next t periods given the history (paper eq. 10).

        ``t`` broadcasts against the customer arrays, so a scalar horizon or one per customer
        both work.
        """
        x, t_x, age = _validated(frequency, recency, T)
        horizon = _horizon(t)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = horizon / (alpha + age + horizon)
        # Euler's transformation turns (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) into
        # (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose first two parameters no longer grow
        # with x; the direct form overflows 2F1 for heavy buyers.
        tail = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(
            a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z
        )
        unconditional = (a + b + x - 1.0) / (a - 1.0) * (1.0 - tail)
        alive = np.exp(-np.logaddexp(0.0, self._log_dropout_odds(x, t_x, age)))
        result = unconditional * alive
        return _as_float_array(np.where(horizon == 0.0, 0.0, result))

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """Expected repeat purchases of a new customer within t periods of their first (eq. 7)."""
        horizon = _horizon(t)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = horizon / (alpha + horizon)
        # Same Euler transformation as in expected_purchases, with x = 0.
        tail = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b - 1.0, z)
        result = (a + b - 1.0) / (a - 1.0) * (1.0 - tail)
        return _as_float_array(np.where(horizon == 0.0, 0.0, result))

    def _log_dropout_odds(self, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
        """Log of (a/(b+x-1)) ((alpha+T)/(alpha+t_x))^(r+x); -inf where x == 0."""
        repeat = x > 0
        # b+x-1 is only meaningful for repeat buyers; a placeholder keeps log() quiet elsewhere.
        shifted_b = np.where(repeat, self.b + x - 1.0, 1.0)
        log_odds = (
            np.log(self.a)
            - np.log(shifted_b)
            + (self.r + x) * (np.log(self.alpha + age) - np.log(self.alpha + t_x))
        )
        return np.where(repeat, log_odds, -np.inf)


def _validated(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Coerce the three summaries to float arrays and reject impossible histories."""
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    age = np.asarray(T, dtype=np.float64)
    if not x.shape == t_x.shape == age.shape:
        raise ValueError(
            f"frequency, recency and T must have the same shape, got {x.shape}, {t_x.shape}, "
            f"{age.shape}"
        )
    for name, values in (("frequency", x), ("recency", t_x), ("T", age)):
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be finite")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must contain non-negative integers (repeat purchase counts)")
    if np.any(t_x < 0):
        raise ValueError("recency must be non-negative")
    if np.any(t_x > age):
        raise ValueError("recency must not exceed T (the last purchase cannot follow the present)")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("recency must be 0 where frequency is 0 (no repeat purchase to date)")
    return x, t_x, age


def _as_float_array(values: ArrayLike) -> FloatArray:
    """Ensure an ndarray even for scalar inputs, where numpy ufuncs return numpy scalars."""
    return np.asarray(values, dtype=np.float64)


def _horizon(t: ArrayLike) -> FloatArray:
    """Coerce a forecast horizon and reject negative or non-finite values."""
    horizon = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(horizon)) or np.any(horizon < 0):
        raise ValueError("t must be finite and non-negative")
    return horizon


def _aggregate(x: FloatArray, t_x: FloatArray, age: FloatArray) -> _Summary:
    """Collapse identical customers so the likelihood is evaluated once per distinct history."""
    x, t_x, age = x.ravel(), t_x.ravel(), age.ravel()
    # A lexsort plus run boundaries is several times faster than np.unique(..., axis=0).
    order = np.lexsort((age, t_x, x))
    x, t_x, age = x[order], t_x[order], age[order]
    starts = np.flatnonzero(
        np.concatenate(([True], (x[1:] != x[:-1]) | (t_x[1:] != t_x[:-1]) | (age[1:] != age[:-1])))
    )
    counts = np.diff(np.append(starts, x.size))
    x_values, x_index = np.unique(x[starts], return_inverse=True)
    return _Summary(
        x=x[starts],
        t_x=t_x[starts],
        T=age[starts],
        weight=counts.astype(np.float64),
        x_values=x_values,
        x_index=x_index,
    )


def _initial_log_params(summary: _Summary, initial: Sequence[float] | None) -> FloatArray:
    """Starting point in log-space; alpha starts at the data's time scale to save iterations."""
    if initial is None:
        mean_age = float(np.average(summary.T, weights=summary.weight))
        initial = (1.0, max(mean_age, 1e-3), 1.0, 1.0)
    start = np.asarray(initial, dtype=np.float64)
    if start.shape != (4,) or not np.all(np.isfinite(start)) or np.any(start <= 0):
        raise ValueError("initial must be four positive numbers (r, alpha, a, b)")
    return np.clip(np.log(start), -_LOG_BOUND, _LOG_BOUND)


def _neg_mean_log_likelihood(log_params: FloatArray, s: _Summary) -> tuple[float, FloatArray]:
    """Negative per-customer log-likelihood (paper eq. 6) and its gradient in log-parameters.

    Averaging rather than summing keeps the optimiser's tolerances independent of base size.
    """
    r, alpha, a, b = np.exp(log_params)
    x, repeat = s.x, s.x > 0
    shifted_b = np.where(repeat, b + x - 1.0, 1.0)
    log_alpha_T = np.log(alpha + s.T)
    log_alpha_tx = np.log(alpha + s.t_x)

    # ln L = A1 + A2 + ln(exp(A3) + [x>0] exp(A4)), following the paper's eq. 6 grouping.
    a12, d12 = _count_terms(r, a, b, s.x_values)
    a3 = -(r + x) * log_alpha_T
    a4 = np.where(repeat, np.log(a) - np.log(shifted_b) - (r + x) * log_alpha_tx, -np.inf)
    a34 = np.logaddexp(a3, a4)
    log_lik = a12[s.x_index] + r * np.log(alpha) + a34

    # Share of the likelihood from "still alive" (A3) versus "dropped after t_x" (A4).
    share4 = np.exp(a4 - a34)
    share3 = 1.0 - share4

    d_r = d12[0][s.x_index] + np.log(alpha) - share3 * log_alpha_T - share4 * log_alpha_tx
    d_alpha = r / alpha - (r + x) * (share3 / (alpha + s.T) + share4 / (alpha + s.t_x))
    d_a = d12[1][s.x_index] + share4 / a
    d_b = d12[2][s.x_index] - share4 / shifted_b

    w = s.weight / s.weight.sum()
    grad = np.array([w @ d_r * r, w @ d_alpha * alpha, w @ d_a * a, w @ d_b * b])
    value = -float(w @ log_lik)
    if not np.isfinite(value):
        # Tell L-BFGS-B the point is unusable instead of poisoning its curvature estimate.
        return np.inf, np.zeros(4)
    return value, -grad


def _count_terms(
    r: float, a: float, b: float, x: FloatArray
) -> tuple[FloatArray, tuple[FloatArray, FloatArray, FloatArray]]:
    """Gamma and beta parts of ln L that depend on x only, with d/dr, d/da and d/db."""
    value = gammaln(r + x) - gammaln(r) + betaln(a, b + x) - betaln(a, b)
    psi_ab, psi_abx = digamma(a + b), digamma(a + b + x)
    d_r = digamma(r + x) - digamma(r)
    d_a = psi_ab - psi_abx
    d_b = digamma(b + x) - digamma(b) + psi_ab - psi_abx
    return value, (d_r, d_a, d_b)
