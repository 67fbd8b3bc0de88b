"""How a digest or an /atrisk page looks: the text (templates) and the buttons under it.

The job and the handlers render through here, so the morning message and a page re-rendered
after a button press look the same.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Literal

from jinja2 import TemplateNotFound, UndefinedError
from markupsafe import Markup
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import Translator, catalog, format_money, format_number
from bot.render import MAX_MESSAGE, environment, render
from bot.services.digest import COMPLAINT_LINES, PAGE_SIZE, TEAM_LINES, Item, TeamPicture
from bot.strategies.alerting import SNOOZE_DAYS
from db.repositories.alerts import AtRisk

log = logging.getLogger(__name__)
REASONS_TEMPLATE = "messages/_reasons.html.j2"
# Callback prefixes (all short: the data must fit 64 bytes).
OPEN_CARD = "acard"  # open the client's card as a new message, keeping the list
# The interaction-logging flow's entry (bot/handlers/interactions.py: "lg:new:<client>");
# handlers/alerts.py answers it only when no logging flow is installed.
LOG_CALL = "lg:new"
SNOOZE = "snz"  # snz:<client>:<days, 0 lifts>:<view>
DIGEST_PAGE = "dgp"  # dgp:<delivery>:<page>
ATRISK_PAGE = "atr"  # atr:<page>[:n]; n: as a new message (from under a digest)
NEW_MESSAGE = "n"
LABEL_MAX = 28
_VIEW = re.compile(r"^(?:d(\d{1,12})\.(\d{1,4})|a(\d{1,4}))$")


@dataclass(frozen=True)
class ViewRef:
    """Which list a message shows: page `page` of a delivered digest, or of /atrisk."""

    page: int
    delivery_id: int | None = None

    @property
    def code(self) -> str:
        if self.delivery_id is not None:
            return f"d{self.delivery_id}.{self.page}"
        return f"a{self.page}"

    @classmethod
    def parse(cls, code: str) -> ViewRef | None:
        match = _VIEW.match(code)
        if match is None:
            return None
        if match[1]:
            return cls(page=int(match[2]), delivery_id=int(match[1]))
        return cls(page=int(match[3]))


@dataclass
class Page:
    """One screen: a page of clients, and on the first page the team picture and the footer."""

    kind: Literal["digest", "atrisk"]
    day: date
    items: list[Item]
    page: int
    total: int
    quiet: int = 0
    team: TeamPicture | None = None
    team_name: str | None = None
    show_owner: bool = False
    delivery_id: int | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1

    @property
    def ref(self) -> ViewRef:
        delivery = self.delivery_id if self.kind == "digest" else None
        return ViewRef(page=self.page, delivery_id=delivery)


@lru_cache(maxsize=4)
def _reason_macro(lang: str) -> Callable[[dict[str, Any]], str] | None:
    """The strategy engine's reason renderer (templates/messages/_reasons.html.j2), if present."""
    try:
        template = environment().get_template(REASONS_TEMPLATE)
    except TemplateNotFound:
        return None
    module = template.make_module(
        {
            "t": Translator(lang),
            "money": lambda v: format_money(v, lang),
            "number": lambda v: format_number(v, lang),
        }
    )
    return getattr(module, "reason_text", None)


def reason_text(t: Translator, client: AtRisk) -> Markup:
    """The client's main stored reason in the reader's language, else its level and score."""
    first = client.reasons[0] if client.reasons else None
    if isinstance(first, dict) and f"reason.{first.get('key', '')}" in catalog(t.lang):
        macro = _reason_macro(t.lang)
        try:
            if macro is not None:
                return Markup(macro(first))
            return t(f"reason.{first['key']}", first.get("n"), **(first.get("params") or {}))
        except (KeyError, IndexError, ValueError, TypeError, UndefinedError):
            log.warning("reason %r does not fit its text", first, exc_info=True)
    level = t(f"risk.{client.level}") if client.level else "—"
    score = client.score if client.score is not None else "—"
    return t("alerts.reason_fallback", level=level, score=score)


def render_text(page: Page, lang: str, tz: str) -> str:
    """The message text, trimmed (team lines first) to fit one Telegram message."""
    t = Translator(lang)
    template = "digest_message" if page.kind == "digest" else "atrisk"
    text = ""
    for team_lines, complaint_lines in ((TEAM_LINES, COMPLAINT_LINES), (5, 3), (0, 0)):
        text = render(
            template,
            lang,
            page=page,
            tz=tz,
            reason=lambda c: reason_text(t, c),
            team_lines=team_lines,
            complaint_lines=complaint_lines,
        )
        if len(text) <= MAX_MESSAGE:
            return text
    return text[: MAX_MESSAGE - 1] + "…"  # unreachable with the caps above; never fail a send


def _label(number: int, name: str) -> str:
    text = f"{number}. {name}"
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def keyboard(page: Page, lang: str) -> InlineKeyboardMarkup | None:
    """Per client: open the card, log a call, snooze; then paging."""
    t = Translator(lang)
    view = page.ref.code
    rows: list[list[InlineKeyboardButton]] = []
    for number, item in enumerate(page.items, start=page.first):
        cid = item.client.id
        rows.append(
            [
                InlineKeyboardButton(
                    _label(number, item.client.name),
                    callback_data=callbacks.pack(OPEN_CARD, cid),
                ),
                InlineKeyboardButton(
                    t.text("alerts.btn_log"), callback_data=callbacks.pack(LOG_CALL, cid)
                ),
            ]
        )
        if item.snoozed_until:
            rows.append(
                [
                    InlineKeyboardButton(
                        t.text("alerts.btn_unsnooze"),
                        callback_data=callbacks.pack(SNOOZE, cid, 0, view),
                    )
                ]
            )
        else:
            rows.append(
                [
                    InlineKeyboardButton(
                        t.text("alerts.btn_snooze", days=days),
                        callback_data=callbacks.pack(SNOOZE, cid, days, view),
                    )
                    for days in SNOOZE_DAYS
                ]
            )
    rows.extend(_navigation(page, t))
    return InlineKeyboardMarkup(rows) if rows else None


def _navigation(page: Page, t: Translator) -> list[list[InlineKeyboardButton]]:
    def go(label: str, to: int) -> InlineKeyboardButton:
        if page.kind == "digest":
            data = callbacks.pack(DIGEST_PAGE, page.delivery_id, to)
        else:
            data = callbacks.pack(ATRISK_PAGE, to)
        return InlineKeyboardButton(label, callback_data=data)

    rows = []
    if page.kind == "digest" and page.page == 1 and page.pages > 1:
        rows.append([go(t.text("alerts.btn_show_all", n=page.total), 2)])
    elif page.pages > 1:
        nav = []
        if page.page > 1:
            nav.append(go(t.text("alerts.btn_back"), page.page - 1))
        if page.page < page.pages:
            nav.append(go(t.text("alerts.btn_more"), page.page + 1))
        rows.append(nav)
    if page.kind == "digest" and page.page == 1 and page.team and page.team.clients:
        team_list = callbacks.pack(ATRISK_PAGE, 1, NEW_MESSAGE)
        rows.append([InlineKeyboardButton(t.text("alerts.btn_team_list"), callback_data=team_list)])
    return rows
