"""Search terms and query parsing."""

from __future__ import annotations

from bot.search_terms import client_terms, latin, parse_query, words


def test_cyrillic_and_latin_meet_in_one_term() -> None:
    assert latin("Иванов") == "ivanov"
    assert words("Щукин Юрий Ёлкин") == ["shchukin", "yuriy", "elkin"]
    assert words("Tom & Jerry <Ltd>") == ["tom", "jerry", "ltd"]


def test_client_terms_cover_every_lookup_path() -> None:
    terms = dict(
        client_terms(
            name="Иванов Пётр",
            company="ООО «Ромашка»",
            phone="+79123456789",
            email="petr@romashka.ru",
            tax_id="7701234567",
            tags=["vip"],
        )
    )
    assert terms["ivanov"] == "name"
    assert terms["romashka"] == "company"
    assert terms["79123456789"] == "phone"
    assert terms["9123456789"] == "phone"
    assert terms["petr@romashka.ru"] == "email"
    assert terms["7701234567"] == "tax"
    assert terms["vip"] == "tag"


def test_phone_queries_in_any_format_resolve_to_the_same_terms() -> None:
    forms = ["8 (912) 345-67-89", "+7 912 345 67 89", "9123456789"]
    for form in forms:
        assert "79123456789" in parse_query(form).exact, form


def test_words_and_emails() -> None:
    assert parse_query("  Ivanof  Petr ").words == ("ivanof", "petr")
    assert parse_query("Petr@Romashka.RU").exact == ("petr@romashka.ru",)
    assert parse_query("").empty
    assert parse_query("<>&").empty
