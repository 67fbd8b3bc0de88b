"""RFM scores: recency, frequency and monetary value as quintiles within the client base.

Scores run 1–5, 5 being the best fifth of the base (the most recent, the most frequent, the most
valuable). The edges are the 20/40/60/80th percentiles over clients with at least one purchase;
the nightly run stores them so a single client can be scored against the same base later.
"""

from __future__ import annotations

import numpy as np

QUINTILES = (20.0, 40.0, 60.0, 80.0)
Edges = tuple[float, float, float, float]
NO_EDGES: Edges = (0.0, 0.0, 0.0, 0.0)


def edges(values: np.ndarray) -> Edges:
    """The quintile edges of `values` (ignoring NaN); all zero for an empty base."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return NO_EDGES
    e20, e40, e60, e80 = (float(v) for v in np.percentile(values, QUINTILES))
    return (e20, e40, e60, e80)


def score_higher_better(values: np.ndarray, cut: Edges) -> np.ndarray:
    """1 + the number of edges strictly below the value: above the 80th percentile scores 5."""
    return 1 + np.searchsorted(np.asarray(cut), np.asarray(values, dtype=np.float64), side="left")


def score_lower_better(values: np.ndarray, cut: Edges) -> np.ndarray:
    """5 − the number of edges strictly below the value: at or below the 20th percentile is 5."""
    return 5 - np.searchsorted(np.asarray(cut), np.asarray(values, dtype=np.float64), side="left")
