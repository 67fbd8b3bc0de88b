"""Configuration: one Settings object from the environment and an optional .env file."""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///crm.db"
# Complaint due dates by severity, in hours from when the complaint is logged.
DEFAULT_SLA_HOURS = {"low": 72, "medium": 48, "high": 24, "critical": 4}
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    bot_token: str | None = Field(default=None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    api_base_url: str = Field(
        default="https://api.telegram.org/bot", validation_alias=_env("TELEGRAM_API_BASE_URL")
    )
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias=_env("DATABASE_URL"))
    timezone: str = Field(default="Europe/Moscow", validation_alias=_env("CRM_TIMEZONE"))
    alert_time: time = Field(default=time(9, 0), validation_alias=_env("CRM_ALERT_TIME"))
    language: Literal["ru", "en"] = Field(default="ru", validation_alias=_env("CRM_LANGUAGE"))
    webhook_url: str | None = Field(default=None, validation_alias=_env("CRM_WEBHOOK_URL"))
    webhook_listen: str = Field(default="0.0.0.0", validation_alias=_env("CRM_WEBHOOK_LISTEN"))
    webhook_port: int = Field(default=8443, validation_alias=_env("CRM_WEBHOOK_PORT"))
    webhook_secret: str | None = Field(default=None, validation_alias=_env("CRM_WEBHOOK_SECRET"))
    complaint_sla_hours: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_HOURS),
        validation_alias=_env("CRM_COMPLAINT_SLA_HOURS"),
    )
    strategy_config: Path | None = Field(default=None, validation_alias=_env("CRM_STRATEGY_CONFIG"))
    alert_grace_hours: int | None = Field(
        default=None, ge=1, le=72, validation_alias=_env("CRM_ALERT_GRACE_HOURS")
    )

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+:[\w-]{6,}", value):
            raise ValueError("a token from @BotFather, like 123456:ABC-DEF…")
        return value or None

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("an http(s) URL of a Bot API server")
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "a URL starting sqlite+aiosqlite:/// or postgresql+asyncpg://user@host/db"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Europe/Moscow") from None
        return value

    @field_validator("alert_time", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> object:
        if isinstance(value, str):
            match = _HHMM.match(value.strip())
            if not match:
                raise ValueError("a 24-hour time HH:MM such as 09:00")
            return time(int(match[1]), int(match[2]))
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value and not value.startswith("https://"):
            raise ValueError("an https:// URL Telegram can reach, or empty for polling")
        return value or None

    @field_validator("complaint_sla_hours", mode="before")
    @classmethod
    def _sla(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        hours = dict(DEFAULT_SLA_HOURS)
        for part in filter(None, (p.strip() for p in value.split(","))):
            key, sep, number = part.partition("=")
            key = key.strip().lower()
            if not sep or key not in hours or not number.strip().isdigit() or int(number) < 1:
                raise ValueError("severity=hours pairs such as low=72,medium=48,high=24,critical=4")
            hours[key] = int(number)
        return hours

    @field_validator("strategy_config")
    @classmethod
    def _config_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("the path of a readable strategy configuration file")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_ENV_NAMES = {
    "bot_token": "TELEGRAM_BOT_TOKEN",
    "api_base_url": "TELEGRAM_API_BASE_URL",
    "database_url": "DATABASE_URL",
    "timezone": "CRM_TIMEZONE",
    "alert_time": "CRM_ALERT_TIME",
    "language": "CRM_LANGUAGE",
    "webhook_url": "CRM_WEBHOOK_URL",
    "webhook_listen": "CRM_WEBHOOK_LISTEN",
    "webhook_port": "CRM_WEBHOOK_PORT",
    "webhook_secret": "CRM_WEBHOOK_SECRET",
    "complaint_sla_hours": "CRM_COMPLAINT_SLA_HOURS",
    "strategy_config": "CRM_STRATEGY_CONFIG",
    "alert_grace_hours": "CRM_ALERT_GRACE_HOURS",
}


class ConfigError(Exception):
    """A configuration value is wrong; the message is one line naming the variable."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad variable: its name, what it expects and what it got."""
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        name = _ENV_NAMES.get(field, field.upper())
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "literal_error":
            message = "one of " + message.removeprefix("Input should be ")
        got = item.get("input")
        lines.append(f"{name}: expected {message}; got {got!r}")
    return "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation error into a ConfigError with a readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings."""
    return load_settings()
