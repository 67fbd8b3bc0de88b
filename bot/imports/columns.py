"""Which columns each import understands, and the header spellings accepted for them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SEPARATORS = re.compile(r"[\s_\-.:*\"']+")


def header_key(raw: object) -> str:
    """A header reduced for matching: trimmed, lower-cased, ё→е, separators collapsed."""
    text = "" if raw is None else str(raw)
    text = text.replace("\ufeff", "").strip().lower().replace("ё", "е")
    return _SEPARATORS.sub(" ", text).strip()


@dataclass(frozen=True)
class ColumnSpec:
    """The fields of one import kind, in the order rows are handed to the importer."""

    fields: tuple[str, ...]
    required: tuple[str, ...]
    aliases: dict[str, str] = field(default_factory=dict)

    def field_for(self, header: object) -> str | None:
        return self.aliases.get(header_key(header))


def _spec(required: tuple[str, ...], names: dict[str, tuple[str, ...]]) -> ColumnSpec:
    aliases: dict[str, str] = {}
    for name, spellings in names.items():
        for spelling in (name, *spellings):
            aliases.setdefault(header_key(spelling), name)
    return ColumnSpec(fields=tuple(names), required=required, aliases=aliases)


# A client reference in sales and interaction files: external id, phone or e-mail.
_CLIENT_REF = (
    "клиент",
    "контрагент",
    "покупатель",
    "заказчик",
    "customer",
    "client id",
    "customer id",
    "код клиента",
    "код контрагента",
    "внешний id клиента",
)

CLIENTS = _spec(
    ("name",),
    {
        "external_id": ("external id", "ext id", "id", "внешний id", "внешний код", "код", "ид"),
        "name": ("клиент", "наименование", "имя", "фио", "название", "контрагент", "client"),
        "company": ("компания", "организация", "фирма", "organization", "organisation"),
        "phone": ("телефон", "тел", "мобильный", "mobile", "tel", "phone number"),
        "email": ("e-mail", "e mail", "mail", "почта", "эл почта", "электронная почта"),
        "tax_id": ("инн", "inn", "tax id", "vat"),
        "owner_telegram_id": (
            "owner",
            "owner telegram id",
            "ответственный",
            "ответственный telegram id",
            "менеджер",
            "manager",
        ),
        "tags": ("теги", "метки", "тег", "метка", "tag"),
        "referred_by": (
            "referred by",
            "referrer",
            "рекомендовал",
            "рекомендатель",
            "рекомендация",
            "пригласил",
        ),
    },
)

SALES = _spec(
    ("client", "date", "amount"),
    {
        "client": _CLIENT_REF,
        "date": ("дата", "дата продажи", "sale date", "дата документа"),
        "amount": ("сумма", "sum", "total", "итого", "сумма продажи"),
        "margin": ("маржа", "прибыль", "profit", "валовая прибыль"),
        "discount": ("скидка", "со скидкой", "акция", "promo"),
        "due_date": ("due date", "invoice due", "invoice_due", "срок оплаты", "оплатить до"),
        "paid_date": ("paid date", "дата оплаты", "оплачено", "paid"),
    },
)

INTERACTIONS = _spec(
    ("client", "date", "kind"),
    {
        "client": _CLIENT_REF,
        "date": ("дата", "дата и время", "datetime", "occurred at", "when", "когда"),
        "kind": ("вид", "тип", "type", "канал", "channel"),
        "text": ("текст", "комментарий", "comment", "описание", "notes", "содержание"),
        "staff_telegram_id": (
            "staff",
            "staff telegram id",
            "сотрудник",
            "менеджер",
            "manager",
            "ответственный",
        ),
    },
)
