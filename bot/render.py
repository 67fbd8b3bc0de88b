"""Rendering every message the bot sends from Jinja2 templates (HTML mode, autoescaped)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

import templates
from bot import i18n
from bot.normalize import format_phone

TEMPLATES_DIR = Path(templates.__file__).resolve().parent
MAX_MESSAGE = 4096
_BLANK_RUNS = re.compile(r"\n{3,}")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The one Jinja environment: autoescape on for every template, undefined names are errors."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["phone"] = format_phone
    return env


def render(name: str, lang: str, **context: Any) -> str:
    """Render templates/messages/<name>.html.j2 in `lang` to a Telegram HTML string."""
    template = environment().get_template(f"messages/{name}.html.j2")
    text = template.render(
        t=i18n.Translator(lang),
        lang=lang,
        money=lambda v: i18n.format_money(v, lang),
        compact=lambda v: i18n.format_compact_money(v, lang),
        share=lambda v: i18n.format_share(v, lang),
        day=lambda v: i18n.format_day(v, lang),
        moment=lambda v, tz=None: i18n.format_moment(v, lang, tz),
        ago=lambda d: i18n.format_ago(d, lang),
        number=lambda v: i18n.format_number(v, lang),
        **context,
    )
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines))
