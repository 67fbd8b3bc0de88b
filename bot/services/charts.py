"""Charts as PNG bytes (matplotlib, headless), imported lazily: matplotlib loads for a second."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    client_share: float
    revenue_share: float


def segment_chart(
    title: str,
    bars: Sequence[Bar],
    *,
    legend: tuple[str, str],
    trend: Sequence[tuple[str, int]] = (),
    trend_title: str = "",
) -> bytes:
    """Clients vs revenue share per segment (the Pareto view), and the at-risk trend if given."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    panels = 2 if trend else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2), dpi=110, squeeze=False)
    ax = axes[0][0]
    positions = range(len(bars))
    width = 0.4
    ax.barh([p - width / 2 for p in positions], [b.client_share * 100 for b in bars], width,
            label=legend[0], color="#4C72B0")  # fmt: skip
    ax.barh([p + width / 2 for p in positions], [b.revenue_share * 100 for b in bars], width,
            label=legend[1], color="#DD8452")  # fmt: skip
    ax.set_yticks(list(positions), [b.label for b in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("%")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    if trend:
        tx = axes[0][1]
        tx.plot([w for w, _ in trend], [n for _, n in trend], marker="o", color="#C44E52")
        tx.set_title(trend_title, fontsize=10)
        tx.tick_params(axis="x", labelrotation=45, labelsize=7)
        tx.set_ylim(bottom=0)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
