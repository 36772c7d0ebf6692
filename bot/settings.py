"""Settings, read once at the edge from PARTNERBOT_* variables and an optional TOML file.

A plain pydantic model filled by `load_settings` (pydantic-settings did the same in a sixth
of a second more at every start of the CLI)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from bot.inputs import InputError, bot_id_of, parse_user_id
from index.errors import Problem

TELEGRAM_API_URL = "https://api.telegram.org/bot"
# On the grounding score (bot/answers.py: 0.3 x the best unit cosine in the top passages +
# 0.7 x the IDF-weighted share of the question's content terms one of the top 3 passages
# prints). Chosen on the calibration part of eval/devset.yaml alone (scripts/eval_retrieval.py
# --sweep: the threshold that maximises answerable answered + unanswerable declined); the
# held-out part reports how it does on questions it was not chosen on (README, Evaluation).
# Lower it to answer more and decline less.
DEFAULT_THRESHOLD = 0.547


ENV_PREFIX = "PARTNERBOT_"


class Settings(BaseModel):
    """Every setting of the bot and the CLI (`load_settings` reads them; nothing else reads
    the environment)."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Path("var")
    knowledge_dir: Path = Path("knowledge")
    model: str = "all-MiniLM-L6-v2"
    # The model French and Spanish questions are matched with, beside `model` (its vectors are
    # built into the same index version); "" for none (they are then read by `model`).
    language_model: Literal["multilingual-e5-small", ""] = "multilingual-e5-small"
    onnx: bool = Field(True, description="serve queries with the ONNX export when present")
    top_k: int = Field(5, ge=1, le=50)
    threshold: float = Field(DEFAULT_THRESHOLD, ge=-1.0, le=1.0)
    keep_versions: int = Field(5, ge=1)
    telegram_token: SecretStr | None = None
    telegram_token_file: Path | None = None
    telegram_api_url: str = TELEGRAM_API_URL
    telegram_file_url: str | None = None
    allowed_users: str = ""
    admins: str = ""
    join_code: SecretStr | None = None
    retention_days: int | None = Field(None, ge=1, le=36500)  # days; at most 100 years
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # PostgreSQL for the session log (several workers); without it, SQLite in the data dir.
    database_url: SecretStr | None = None

    @field_validator("allowed_users", "admins")
    @classmethod
    def _ids(cls, value: str) -> str:
        value = value.strip()
        if value == "*" or not value:
            return value
        for part in value.split(","):
            try:
                parse_user_id(part)
            except InputError as exc:  # the one parser: digits 0-9, Telegram's range
                raise ValueError(f"{exc.message} Use user ids, comma-separated, or * for "
                                 "everyone") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().strip().startswith(("postgresql://", "postgres://")):
            raise ValueError("Use a PostgreSQL URL, postgresql://user:password@host:port/"
                             "database, or leave it unset for SQLite in the data directory")
        return SecretStr(value.get_secret_value().strip())

    def database(self) -> str | None:
        """The PostgreSQL URL of the session log, or None for SQLite (never logged: it may
        hold a password)."""
        return self.database_url.get_secret_value() if self.database_url else None

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "partnerbot.db"

    @property
    def onnx_dir(self) -> Path:
        return self.data_dir / "models" / self.model.replace("/", "__")

    @property
    def docs_dir(self) -> Path:
        return self.knowledge_dir / "docs"

    @property
    def checklists_dir(self) -> Path:
        return self.knowledge_dir / "checklists"

    @property
    def admin_ids(self) -> set[int]:
        return _parse_ids(self.admins)

    @property
    def allowed_ids(self) -> set[int]:
        return _parse_ids(self.allowed_users)

    @property
    def open_pilot(self) -> bool:
        return self.allowed_users.strip() == "*"

    @property
    def bot_id(self) -> int | None:
        """The bot's own user id (the digits before ':' of the token), or None without one."""
        try:
            return bot_id_of(self.token())
        except OSError:  # an unreadable token file: the bot does not start; the CLI goes on
            return None

    def token(self) -> str | None:
        """The Telegram token from the variable or the token file; never logged."""
        if self.telegram_token is not None:
            return self.telegram_token.get_secret_value().strip() or None
        if self.telegram_token_file is not None:
            return self.telegram_token_file.read_text(encoding="utf-8").strip() or None
        return None

    def file_url(self) -> str:
        if self.telegram_file_url:
            return self.telegram_file_url
        base = self.telegram_api_url.rstrip("/")
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"


def _parse_ids(value: str) -> set[int]:
    if value.strip() in ("", "*"):
        return set()
    return {int(part) for part in value.split(",") if part.strip()}


class SettingsError(Problem):
    """A setting has a wrong value; the message names each variable and what it expects."""


def _values(overrides: dict[str, Any]) -> dict[str, Any]:
    """The settings' raw values: the arguments, else PARTNERBOT_<NAME> (any case), else the
    key of the PARTNERBOT_CONFIG TOML file. Pydantic converts and checks them."""
    values: dict[str, Any] = {}
    config = os.environ.get("PARTNERBOT_CONFIG")
    if config:
        try:
            with open(config, "rb") as handle:
                values.update(tomllib.load(handle))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"The settings file {config} is not valid TOML: {exc}",
                                "fix the file named by PARTNERBOT_CONFIG") from exc
    variables = {name.upper(): value for name, value in os.environ.items()}
    for field in Settings.model_fields:
        if (value := variables.get(ENV_PREFIX + field.upper())) is not None:
            values[field] = value
    return values | overrides


def load_settings(**overrides: Any) -> Settings:
    """Build the settings (arguments, then the environment, then the optional
    PARTNERBOT_CONFIG TOML file); raise SettingsError naming every wrong variable."""
    try:
        return Settings(**_values(overrides))
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "PARTNERBOT_" + "_".join(str(p) for p in error["loc"]).upper()
            value = error.get("input")
            secret = error["loc"] and error["loc"][0] in ("database_url", "telegram_token")
            shown = "" if isinstance(value, dict) or secret else f" (got {value!r})"
            lines.append(f"{name}: {error['msg'].removeprefix('Value error, ')}{shown}")
        raise SettingsError("Invalid settings:\n" + "\n".join(lines),
                            "fix the variables above, or the file named by "
                            "PARTNERBOT_CONFIG") from exc
    except OSError as exc:  # a missing or unreadable PARTNERBOT_CONFIG file
        raise SettingsError(f"Cannot read the settings file: {exc}",
                            "check PARTNERBOT_CONFIG") from exc
