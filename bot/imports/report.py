"""What an import did: counts, skipped rows with their line numbers, touched clients."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LISTED = 100
VALUE_PREVIEW = 60

# code -> (English, Russian); {value} is the offending cell as the user typed it.
MESSAGES: dict[str, tuple[str, str]] = {
    "missing_name": ("missing name", "не указано имя"),
    "missing_client": ("missing client", "не указан клиент"),
    "missing_date": ("missing date", "не указана дата"),
    "missing_amount": ("missing amount", "не указана сумма"),
    "missing_kind": ("missing kind", "не указан вид"),
    "date": ("unparseable date '{value}'", "не удалось разобрать дату '{value}'"),
    "due_date": ("unparseable due date '{value}'", "не удалось разобрать срок оплаты '{value}'"),
    "paid_date": ("unparseable paid date '{value}'", "не удалось разобрать дату оплаты '{value}'"),
    "amount": ("unparseable amount '{value}'", "не удалось разобрать сумму '{value}'"),
    "margin": ("unparseable margin '{value}'", "не удалось разобрать маржу '{value}'"),
    "discount": (
        "unparseable discount '{value}' (use yes or no)",
        "не удалось разобрать скидку '{value}' (нужно да или нет)",
    ),
    "phone": ("invalid phone '{value}'", "неверный телефон '{value}'"),
    "email": ("invalid e-mail '{value}'", "неверный e-mail '{value}'"),
    "tax_id": ("tax id too long '{value}'", "слишком длинный ИНН '{value}'"),
    "external_id": ("external id too long '{value}'", "слишком длинный внешний id '{value}'"),
    "owner": (
        "unknown owner telegram id '{value}'",
        "нет сотрудника-ответственного с Telegram id '{value}'",
    ),
    "staff": ("unknown staff telegram id '{value}'", "нет сотрудника с Telegram id '{value}'"),
    "client": ("unknown client '{value}'", "клиент '{value}' не найден"),
    "kind": (
        "unknown kind '{value}' (use call, meeting, email, message, visit or note)",
        "неизвестный вид '{value}' (звонок, встреча, письмо, сообщение, визит или заметка)",
    ),
    "referrer_unknown": (
        "referred_by '{value}' not found, left empty",
        "рекомендатель '{value}' не найден, поле оставлено пустым",
    ),
    "referrer_self": (
        "client refers to itself in referred_by, ignored",
        "клиент указан рекомендателем самого себя, поле пропущено",
    ),
}

_COUNTS = {
    "en": "Created {created}, updated {updated}, unchanged {unchanged}, skipped {skipped}",
    "ru": "Создано {created}, обновлено {updated}, без изменений {unchanged}, пропущено {skipped}",
}
_LINE = {"en": "line {line}: {reason}", "ru": "строка {line}: {reason}"}
_WARNING = {
    "en": "line {line} (warning): {reason}",
    "ru": "строка {line} (предупреждение): {reason}",
}
_MORE = {"en": "… and {count} more", "ru": "… и ещё {count}"}
_IGNORED = {"en": "Ignored columns: {names}", "ru": "Нераспознанные столбцы пропущены: {names}"}


def _lang(lang: str) -> str:
    return "ru" if lang.lower().startswith("ru") else "en"


def _preview(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= VALUE_PREVIEW else text[: VALUE_PREVIEW - 1] + "…"


@dataclass(slots=True)
class RowError:
    """One problem with one row; `line` is as a human sees the file (header = line 1)."""

    line: int
    reason: str
    code: str = ""
    value: str = ""

    @classmethod
    def of(cls, line: int, code: str, value: object = None) -> RowError:
        """A row error from a message code, worded in English for `reason`."""
        shown = _preview(value)
        return cls(line, MESSAGES[code][0].format(value=shown), code, shown)

    def text(self, lang: str = "en") -> str:
        """The reason in the user's language (falls back to the English `reason`)."""
        if _lang(lang) == "ru" and self.code in MESSAGES:
            return MESSAGES[self.code][1].format(value=self.value)
        return self.reason


@dataclass
class ImportReport:
    """Counts are per client (clients import) or per row (sales, interactions)."""

    entity: str = ""
    file: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    client_ids: set[int] = field(default_factory=set)
    ignored_columns: list[str] = field(default_factory=list)

    def skip(self, line: int, code: str, value: object = None) -> None:
        """Record a skipped row."""
        self.errors.append(RowError.of(line, code, value))
        self.skipped += 1

    def warn(self, line: int, code: str, value: object = None) -> None:
        """Record a problem that did not stop the row from being imported."""
        self.warnings.append(RowError.of(line, code, value))

    def as_audit(self) -> dict[str, object]:
        """The figures kept in the import's audit row."""
        return {
            "file": self.file,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
        }

    def summary_lines(self, lang: str = "en", limit: int = MAX_LISTED) -> list[str]:
        """Short human lines: the counts, then skipped rows and warnings (at most `limit`)."""
        lang = _lang(lang)
        lines = [
            _COUNTS[lang].format(
                created=self.created,
                updated=self.updated,
                unchanged=self.unchanged,
                skipped=self.skipped,
            )
        ]
        if self.ignored_columns:
            lines.append(_IGNORED[lang].format(names=", ".join(self.ignored_columns)))
        problems = [(_LINE, e) for e in self.errors] + [(_WARNING, w) for w in self.warnings]
        problems.sort(key=lambda item: item[1].line)
        for template, problem in problems[:limit]:
            lines.append(template[lang].format(line=problem.line, reason=problem.text(lang)))
        if len(problems) > limit:
            lines.append(_MORE[lang].format(count=len(problems) - limit))
        return lines
