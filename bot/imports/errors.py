"""Errors that stop a whole import before any row is written; messages are for the user."""

from __future__ import annotations

from collections.abc import Sequence

# Column names as the user may know them, for messages.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "external_id": ("external_id", "внешний id"),
    "name": ("name", "наименование"),
    "company": ("company", "компания"),
    "phone": ("phone", "телефон"),
    "email": ("email", "почта"),
    "tax_id": ("tax_id", "ИНН"),
    "owner_telegram_id": ("owner_telegram_id", "ответственный"),
    "tags": ("tags", "теги"),
    "referred_by": ("referred_by", "рекомендовал"),
    "client": ("client", "клиент"),
    "date": ("date", "дата"),
    "amount": ("amount", "сумма"),
    "margin": ("margin", "маржа"),
    "discount": ("discount", "скидка"),
    "due_date": ("due_date", "срок оплаты"),
    "paid_date": ("paid_date", "дата оплаты"),
    "kind": ("kind", "вид"),
    "text": ("text", "текст"),
    "staff_telegram_id": ("staff_telegram_id", "сотрудник"),
}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; nothing was written."""

    def __init__(self, en: str, ru: str) -> None:
        super().__init__(en)
        self.messages = {"en": en, "ru": ru}

    def text(self, lang: str = "en") -> str:
        """The message in the user's language."""
        return self.messages["ru" if lang.lower().startswith("ru") else "en"]


class UnreadableFileError(ImportFileError):
    """Not a CSV or XLSX we can read: wrong format, encoding, or no header row."""


class MissingColumnsError(ImportFileError):
    """A required column is absent from the header row."""

    def __init__(self, missing: Sequence[str], found: Sequence[str]) -> None:
        self.missing = list(missing)
        self.found = list(found)
        shown = ", ".join(f for f in found if f) or "—"
        en = ", ".join(f"{FIELD_LABELS[f][0]} ({FIELD_LABELS[f][1]})" for f in missing)
        ru = ", ".join(f"{FIELD_LABELS[f][1]} ({FIELD_LABELS[f][0]})" for f in missing)
        super().__init__(
            f"missing required column(s): {en}; columns found: {shown}",
            f"в файле нет обязательных столбцов: {ru}; найдены столбцы: {shown}",
        )
