"""How a supervisor summary looks: its text, its drill-down buttons and its chart.

/summary and the Monday weekly push (bot/services/weekly.py) both render through here, so the
pushed summary and the one asked for look, and click, the same.
"""

from __future__ import annotations

from datetime import date, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.domain import Role
from bot.i18n import Translator, format_period
from bot.render import render
from bot.services.summary import TOP_MANAGERS, UNCLASSIFIED, Summary
from db.repositories.summary import Narrow

# Callback prefixes, answered by bot/handlers/summary.py.
SUMMARY, CHART = "sum", "sumc"
KINDS = {"t": "type", "s": "strategy", "m": "manager", "g": "team"}
CODES = {kind: code for code, kind in KINDS.items()}


def label(t: Translator, kind: str, key: str) -> str:
    if key == UNCLASSIFIED:
        return t.text("summary.unclassified")
    return t.text(f"{kind}.{key}")


def title(summary: Summary, t: Translator, *, role: Role, team: str | None) -> str:
    """The heading of a summary, for the person reading it (a supervisor's own team by name)."""
    narrow = summary.narrow
    if narrow is None:
        own = team if role == Role.SUPERVISOR else None
        return t.text("summary.title_team", team=own) if own else t.text("summary.title_all")
    if narrow.kind == "team":
        return t.text("summary.title_team", team=narrow.key)
    if narrow.kind == "manager":
        name = summary.manager_names.get(narrow.key, f"#{narrow.key}")
        return t.text("summary.title_segment", segment=name)
    return t.text("summary.title_segment", segment=label(t, narrow.kind, narrow.key))


def _weekly_heading(t: Translator, monday: date, lang: str) -> str:
    period = format_period(monday - timedelta(days=7), monday - timedelta(days=1), lang)
    return t("summary.weekly_heading", period=period)


def render_text(summary: Summary, lang: str, heading: str, *, week_of: date | None = None) -> str:
    """The summary's message; `week_of` (a Monday) marks it as the weekly push sent that day,
    headed with the week that just ended, which its "this week" figures describe."""
    t = Translator(lang)
    avg = summary.complaints.satisfaction_avg
    return render(
        "summary",
        lang,
        s=summary,
        title=heading,
        weekly=_weekly_heading(t, week_of, lang) if week_of else None,
        type_label=lambda key: label(t, "type", key),
        strategy_label=lambda key: label(t, "strategy", key),
        satisfaction=f"{avg:.1f}".replace(".", "," if lang == "ru" else ".") if avg else "",
        managers=[m for m in summary.by_manager[:5] if m.at_risk] if summary.narrow is None else [],
    )


def encode(narrow: Narrow | None, teams: list[str]) -> list[str]:
    """A narrowing as callback parts: teams by their index, to stay within 64 bytes."""
    if narrow is None:
        return ["a"]
    key = str(teams.index(narrow.key)) if narrow.kind == "team" else narrow.key
    return [CODES[narrow.kind], key]


def keyboard(summary: Summary, t: Translator) -> InlineKeyboardMarkup:
    """Drill-down buttons (team buttons only on the whole summary) and the chart button."""
    rows: list[list[InlineKeyboardButton]] = []
    teams = summary.teams

    def button(text: str, *parts: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=callbacks.pack(*parts))

    if summary.narrow is None:
        segments = [s for s in summary.by_type if s.key != UNCLASSIFIED]
        row = [button(label(t, "type", s.key), SUMMARY, "t", s.key) for s in segments]
        rows += [row[i : i + 3] for i in range(0, len(row), 3)]
        strategies = [s for s in summary.by_strategy if s.key != UNCLASSIFIED]
        row = [button(label(t, "strategy", s.key), SUMMARY, "s", s.key) for s in strategies]
        rows += [row[i : i + 2] for i in range(0, len(row), 2)]
        team_row = [button(team[:30], SUMMARY, "g", str(i)) for i, team in enumerate(teams)]
        rows += [team_row[i : i + 3] for i in range(0, len(team_row), 3)]
        people = [
            button(summary.manager_names.get(m.key, m.key)[:30], SUMMARY, "m", m.key)
            for m in summary.by_manager[:TOP_MANAGERS]
            if m.at_risk
        ]
        rows += [people[i : i + 2] for i in range(0, len(people), 2)]
    extra = [button(t.text("summary.chart"), CHART, *encode(summary.narrow, teams))]
    if summary.narrow is not None:
        extra.insert(0, button(t.text("summary.back"), SUMMARY, "a"))
    rows.append(extra)
    return InlineKeyboardMarkup(rows)


def chart(summary: Summary, t: Translator, heading: str) -> bytes:
    """The summary's chart as PNG: client and revenue shares by type, and the at-risk trend."""
    from bot.services.charts import Bar, segment_chart  # matplotlib loads for a second

    bars = [Bar(label(t, "type", s.key), s.client_share, s.revenue_share) for s in summary.by_type]
    return segment_chart(
        heading,
        bars,
        legend=(t.text("summary.chart_clients"), t.text("summary.chart_revenue")),
        trend=[(day.strftime("%d.%m"), count) for day, count in summary.trend],
        trend_title=t.text("summary.chart_trend"),
    )
