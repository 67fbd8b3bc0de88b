"""Settings: defaults, and one readable line per bad variable."""

from __future__ import annotations

from datetime import time

import pytest

from bot.config import ConfigError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "CRM_TIMEZONE", "CRM_ALERT_TIME", "CRM_LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///crm.db"
    assert settings.timezone == "Europe/Moscow"
    assert settings.alert_time == time(9, 0)
    assert settings.language == "ru"
    assert settings.webhook_url is None


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CRM_ALERT_TIME", "9am", "CRM_ALERT_TIME: expected a 24-hour time HH:MM"),
        ("CRM_TIMEZONE", "Mars/Olympus", "CRM_TIMEZONE: expected an IANA time zone"),
        ("CRM_LANGUAGE", "de", "CRM_LANGUAGE: expected one of 'ru' or 'en'"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: expected a URL starting sqlite+aiosqlite"),
        ("CRM_WEBHOOK_URL", "http://x", "CRM_WEBHOOK_URL: expected an https:// URL"),
        ("TELEGRAM_BOT_TOKEN", "nope", "TELEGRAM_BOT_TOKEN: expected a token from @BotFather"),
        ("CRM_COMPLAINT_SLA_HOURS", "urgent=1", "CRM_COMPLAINT_SLA_HOURS: expected severity=hours"),
        ("CRM_STRATEGY_CONFIG", "/no/such.yaml", "CRM_STRATEGY_CONFIG: expected the path of"),
        ("CRM_ALERT_GRACE_HOURS", "0", "CRM_ALERT_GRACE_HOURS: expected"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_sla_hours_override_some_severities(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_COMPLAINT_SLA_HOURS", "critical=2, high=12")
    settings = load_settings(_env_file=None)
    assert settings.complaint_sla_hours == {"low": 72, "medium": 48, "high": 12, "critical": 2}
