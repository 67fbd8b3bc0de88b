"""Catalogues and rendering: both languages complete, every value escaped."""

from __future__ import annotations

from bot.i18n import LANGUAGES, Translator, catalog, pick_language
from bot.messaging import plain, split_message
from bot.render import render


def test_catalogues_have_the_same_keys() -> None:
    keys = {lang: set(catalog(lang)) for lang in LANGUAGES}
    assert keys["ru"] == keys["en"], keys["ru"] ^ keys["en"]


def test_parameters_are_escaped_but_catalogue_markup_is_kept() -> None:
    text = Translator("en")("access.refused", telegram_id="<b>1</b> & 2")
    assert "&lt;b&gt;1&lt;/b&gt; &amp; 2" in text
    assert "<code>" in text


def test_russian_plurals() -> None:
    t = Translator("ru")
    assert t("card.complaints", n=1) == "Открыта 1 рекламация"
    assert t("card.complaints", n=3) == "Открыто 3 рекламации"
    assert t("card.complaints", n=5) == "Открыто 5 рекламаций"


def test_language_choice() -> None:
    assert pick_language(None, "en-US", "ru") == "en"
    assert pick_language(None, "de", "ru") == "ru"
    assert pick_language("ru", "en", "en") == "ru"


def test_render_escapes_data() -> None:
    text = render("search_none", "en", query="Tom & Jerry <Ltd>", suggestions=[])
    assert "Tom &amp; Jerry &lt;Ltd&gt;" in text
    assert plain(text) == "Nothing found for “Tom & Jerry <Ltd>”."


def test_long_messages_split_at_lines_within_the_limit() -> None:
    text = "\n".join(f"<b>line {i}</b> " + "x" * 90 for i in range(200))
    parts = split_message(text)
    assert len(parts) > 1
    assert all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text
    huge = "y" * 10_000
    assert [len(p) for p in split_message(huge)] == [4096, 4096, 1808]


def test_plural_counts_are_formatted_once() -> None:
    assert Translator("ru")("card.complaints", n=1234) == "Открыто 1\u00a0234 рекламации"
    import pytest

    with pytest.raises(TypeError):
        Translator("ru")("card.complaints", n="1 234")  # type: ignore[arg-type]


def test_every_catalogue_entry_is_valid_telegram_html() -> None:
    """Catalogues are trusted markup: a bare '&' or '<' would make Telegram refuse a message."""
    from bot.sandbox import BotApiError, parse_formatted_text

    for lang in LANGUAGES:
        for key, entry in catalog(lang).items():
            for text in entry.values() if isinstance(entry, dict) else [entry]:
                sample = text.replace("{", "").replace("}", "")
                try:
                    parse_formatted_text(sample or "x", "HTML")
                except BotApiError as error:
                    raise AssertionError(f"{lang}:{key}: {error}") from None


def test_labels_with_ampersands_read_right_in_both_forms() -> None:
    t = Translator("en")
    assert t("strategy.reward_invest") == "Reward &amp; invest"
    assert t.text("strategy.reward_invest") == "Reward & invest"


def test_whole_numbers_and_money_read_as_babel_writes_them() -> None:
    # Integers skip Babel's general formatter for speed; they must look exactly the same.
    from decimal import Decimal

    from babel.numbers import format_decimal

    from bot.i18n import format_money, format_number

    values = [0, 7, -7, 999, 1000, -1000, 1_234_567, -98_765_432_101, 10**15]
    for lang in LANGUAGES:
        for value in values:
            assert format_number(value, lang) == format_decimal(value, locale=lang)
            expected = format_decimal(value, locale=lang) + "\u00a0₽"
            assert format_money(Decimal(value) + Decimal("0.4"), lang) == expected
    assert format_number(1_234_567, "ru") == "1\u00a0234\u00a0567"
    assert format_number(2.5, "en") == "2.5"
