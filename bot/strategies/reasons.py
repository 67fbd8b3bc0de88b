"""Reasons: structured, translatable explanations of each decision, stored as JSON.

A reason is ``{"key": name, "params": {...}}`` rendered as ``t("reason." + name, **params)``; it
may also carry ``n`` (the plural count), lists naming the params to format as money (``money``),
percentages of a share (``pct``) or one-decimal numbers (``dec``), ``labels`` (params whose value
is a catalogue key to translate), ``points`` (what a risk signal added), and ``parts``: nested
reasons joined into the ``details`` param ("after 3 complaints and an unpaid invoice"). The
template macro in templates/messages/_reasons.html.j2 does the rendering, in the reader's language.
"""

from __future__ import annotations

import math
from typing import Any

Reason = dict[str, Any]


def reason(
    key: str,
    *,
    n: int | None = None,
    money: dict[str, float] | None = None,
    pct: dict[str, float] | None = None,
    dec: dict[str, float] | None = None,
    labels: dict[str, str] | None = None,
    parts: list[Reason] | None = None,
    points: float | None = None,
    **params: Any,
) -> Reason:
    """One reason; money is rounded to whole roubles, shares and decimals to 4 and 1 places.

    Values must be plain Python numbers (``ndarray.tolist()`` gives those) and finite.
    """
    out: Reason = {"key": key}
    if n is not None:
        out["n"] = int(n)
    if money:
        params.update({k: round(v) for k, v in money.items()})
        out["money"] = list(money)
    if pct:
        params.update({k: round(v, 4) for k, v in pct.items()})
        out["pct"] = list(pct)
    if dec:
        params.update({k: round(v, 1) for k, v in dec.items()})
        out["dec"] = list(dec)
    if labels:
        params.update(labels)
        out["labels"] = list(labels)
    if params:
        out["params"] = params
    if parts:
        out["parts"] = parts
    if points is not None:
        out["points"] = round(points)
    return out


def finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value)
