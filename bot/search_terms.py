"""Search terms: how names, phones and e-mails become index terms and queries. Pure functions.

Every term is lower-case Latin, so "Иванов", "ivanov" and "IVANOV" are one term; a typo is left
to the fuzzy step that runs over the distinct terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.normalize import try_phone

# A practical Russian → Latin table, close to how people spell Russian names in Latin letters.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
}  # fmt: skip
_TRANSLIT = str.maketrans(_CYRILLIC)
_WORD = re.compile(r"[0-9a-z]+")
_DIGITS = re.compile(r"\d")
_PHONEISH = re.compile(r"^[\d\s()+\-.]{7,}$")

NAME, COMPANY, TAG, EMAIL, PHONE, TAX = "name", "company", "tag", "email", "phone", "tax"
FUZZY_FIELDS = (NAME, COMPANY, TAG)
TERM_MAX = 100


def latin(text: str) -> str:
    """Lower-case Latin form of any text (Cyrillic transliterated)."""
    return text.lower().translate(_TRANSLIT)


def words(text: str | None) -> list[str]:
    """The index words of a name or company: Latin, lower-case, punctuation dropped."""
    if not text:
        return []
    return [w[:TERM_MAX] for w in _WORD.findall(latin(text))]


def phone_terms(e164: str | None) -> list[str]:
    """A stored phone as digits, whole and as the 10-digit national part people usually type."""
    if not e164:
        return []
    digits = e164.lstrip("+")
    return list(dict.fromkeys([digits, digits[-10:]]))


def client_terms(
    *,
    name: str,
    company: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    tax_id: str | None = None,
    tags: list[str] | None = None,
) -> list[tuple[str, str]]:
    """Every (term, field) under which a client should be found, without duplicates."""
    out: dict[tuple[str, str], None] = {}
    for w in words(name):
        out[(w, NAME)] = None
    for w in words(company):
        out[(w, COMPANY)] = None
    for tag in tags or []:
        for w in words(tag):
            out[(w, TAG)] = None
    if email:
        out[(email[:TERM_MAX], EMAIL)] = None
        out[(email.split("@")[0][:TERM_MAX], EMAIL)] = None
    for p in phone_terms(phone):
        out[(p, PHONE)] = None
    if tax_id:
        out[(tax_id[:TERM_MAX], TAX)] = None
    return list(out)


@dataclass(frozen=True)
class Query:
    """A parsed search: exact terms to look up, or words to match by prefix and then fuzzily."""

    exact: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.exact and not self.words


def parse_query(text: str) -> Query:
    """Decide what the user typed: a phone, an e-mail, a tax id, or words of a name."""
    text = text.strip()[:200]
    if not text:
        return Query()
    if "@" in text and " " not in text:
        return Query(exact=(text.lower(),))
    if _PHONEISH.match(text) and len(_DIGITS.findall(text)) >= 7:
        digits = "".join(_DIGITS.findall(text))
        candidates = [digits]
        phone = try_phone(text)
        if phone:
            candidates.extend(phone_terms(phone))
        return Query(exact=tuple(dict.fromkeys(candidates)))
    return Query(words=tuple(dict.fromkeys(words(text)))[:6])
