"""Benchmark the BG/NBD fit and scoring on a simulated base of 100,000 clients.

Run from the repository root: ``python -m bench.bench_bgnbd``. Prints figures, asserts nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from bot.strategies.bgnbd import BGNBD

N_CLIENTS = 100_000
MAX_AGE_DAYS = 78 * 7
HORIZON_WEEKS = 13.0
REPEATS = 3
TRUE_PARAMS = {"r": 0.6, "alpha": 9.0, "a": 0.8, "b": 3.0}

Result = TypeVar("Result")


def simulate(
    n: int, rng: np.random.Generator, *, r: float, alpha: float, a: float, b: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (frequency, recency, T) in weeks from the BG/NBD generative process, day-rounded."""
    # Clients joined evenly over the last 78 weeks; CRM dates are days, hence the rounding.
    age_days = rng.integers(1, MAX_AGE_DAYS + 1, size=n)
    age = age_days / 7.0
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    dropout = rng.beta(a, b, size=n)
    # The client leaves right after their k-th repeat purchase, k ~ Geometric(p).
    last_possible = rng.geometric(dropout)
    arrivals = rng.poisson(rate * age)
    frequency = np.minimum(arrivals, last_possible)
    # Given n Poisson arrivals in (0, T], the x-th arrival time is T * Beta(x, n - x + 1).
    repeat = frequency > 0
    position = rng.beta(np.maximum(frequency, 1), np.maximum(arrivals - frequency + 1, 1))
    recency_days = np.where(repeat, np.clip(np.rint(position * age_days), 0, age_days), 0)
    return frequency.astype(np.float64), recency_days / 7.0, age


def best_of(repeats: int, func: Callable[[], Result]) -> tuple[float, Result]:
    """Best wall time over several runs, with the last result."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def main() -> None:
    """Simulate, time the fit and the scoring, print a figures table."""
    rng = np.random.default_rng(20050401)
    frequency, recency, age = simulate(N_CLIENTS, rng, **TRUE_PARAMS)
    distinct = np.unique(np.column_stack([frequency, recency, age]), axis=0).shape[0]

    fit_time, model = best_of(REPEATS, lambda: BGNBD.fit(frequency, recency, age))

    def score() -> tuple[np.ndarray, np.ndarray]:
        return (
            model.p_alive(frequency, recency, age),
            model.expected_purchases(HORIZON_WEEKS, frequency, recency, age),
        )

    score_time, _ = best_of(REPEATS, score)

    rows = [
        ("cpu_count", f"{os.cpu_count()}"),
        ("clients", f"{N_CLIENTS:,}"),
        ("distinct (x, t_x, T) rows", f"{distinct:,}"),
        ("repeat buyers", f"{np.count_nonzero(frequency):,}"),
        (f"fit, best of {REPEATS}", f"{fit_time:.3f} s"),
        (f"p_alive + E[X({HORIZON_WEEKS:g} wk)], best of {REPEATS}", f"{score_time:.3f} s"),
        ("true  r, alpha, a, b", ", ".join(f"{v:.3f}" for v in TRUE_PARAMS.values())),
        ("fit   r, alpha, a, b", f"{model.r:.3f}, {model.alpha:.3f}, {model.a:.3f}, {model.b:.3f}"),
        ("log-likelihood", f"{model.log_likelihood:,.1f}"),
    ]
    width = max(len(label) for label, _ in rows)
    print("BG/NBD benchmark")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


if __name__ == "__main__":
    main()
