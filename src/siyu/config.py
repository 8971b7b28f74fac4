"""Settings read from ``SIYU_*`` environment variables.

Imports nothing internal. Invalid values fail at start-up with the variable's name
(pydantic-settings reports ``SIYU_<FIELD>``).
"""

from __future__ import annotations

import re

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path.cwd() / "var"


class Settings(BaseSettings):
    """All configuration of one Siyu install."""

    model_config = SettingsConfigDict(env_prefix="SIYU_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Where the embedded database and caches live.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means sqlite:///<data_dir>/siyu.db")
    secret_key: str = Field(
        default="",
        description="Key material for PII encryption and blind indexes (>= 32 chars). Required outside dev.",
    )
    env: Literal["dev", "test", "prod"] = Field(default="dev", description="dev | test | prod")
    timezone: str = Field(default="Asia/Shanghai", description="The brand's time zone for days and working hours.")
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_batch: int = Field(default=1000, ge=1, le=10000)
    max_properties_bytes: int = Field(default=16 * 1024, ge=256)
    unique_identity_kinds: str = Field(default="phone,unionid,member_no,app_user_id")
    test_phone_numbers: str = Field(default="13800138000,13900139000,18888888888,13333333333")
    extra_identity_kinds: str = Field(default="", description="Comma-separated extra identity kinds to register.")
    log_level: str = Field(default="INFO")
    public_url: str = Field(default="http://127.0.0.1:8000", description="Where customers reach this install: "
                            "the base of channel codes' landing links printed as QR codes (https in production).")
    summary_refresh_seconds: int = Field(
        default=300, ge=0, le=86_400,
        description="How often `siyu serve` (and `siyu worker`) refresh the dashboard's summaries in the "
                    "background, in seconds; 0 turns the server's refresher off (a dashboard view still refreshes).")
    service_poll_seconds: int = Field(
        default=10, ge=0, le=3600,
        description="How often `siyu worker` answers newly ingested customer messages (auto-reply rules, FAQ, "
                    "hand-off) and raises first-response SLA breaches, in seconds; 0 turns it off.")
    segment_refresh_seconds: int = Field(
        default=60, ge=0, le=86_400,
        description="How often `siyu serve` (and `siyu worker`) re-evaluate segments and rule tags for the customers "
                    "whose facts arrived, in seconds; 0 turns the server's segment refresher off.")
    segment_full_refresh_seconds: int = Field(
        default=3_600, ge=60, le=7 * 86_400,
        description="How often segments, rule tags and interest tags are re-evaluated for every customer (rules "
                    "that move with the clock, and changes no fact records); also at each brand-local midnight.")
    interest_half_life_days: float = Field(
        default=30.0, gt=0, le=3_650,
        description="Content-interest scores halve every this many days (docs/segments.md#content-interest-tags).")
    interest_top: int = Field(default=3, ge=1, le=20, description="How many top interests become interest tags.")
    scores_refresh_seconds: int = Field(
        default=3600, ge=0, le=7 * 86_400,
        description="How often the background refresher writes the customer scores back (RFM, AIPL, lifecycle, "
                    "CLV, churn warnings, intent), in seconds; 0 turns the scheduled write-back off.")
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = Field(
        default="NORMAL", description="SQLite durability: NORMAL survives process crashes; FULL also power loss.")
    spark_master: str = Field(default="local[2]", description="Spark master for `--engine spark` analyses "
                              "(the optional spark extra).")
    smtp_host: str = Field(default="", description="SMTP server for the email channel; empty: no email adapter.")
    smtp_port: int = Field(default=25, ge=1, le=65_535)
    smtp_username: str = Field(default="")
    smtp_password: str = Field(default="")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    email_from: str = Field(default="noreply@localhost", description="The From address of outbox email.")
    webhook_secret: str = Field(default="", description="Shared secret of signed webhooks (docs/messaging.md); "
                                "empty: derived from SIYU_SECRET_KEY.")
    dispatch_batch: int = Field(default=200, ge=1, le=10_000, description="Outbox messages claimed per turn.")
    dispatch_idle_seconds: float = Field(default=1.0, gt=0, le=3_600,
                                         description="How long the dispatcher sleeps when nothing is due.")
    dispatch_lease_seconds: int = Field(
        default=300, ge=1, le=86_400,
        description="How long a dispatcher holds the messages it claimed before another may claim them again (a "
                    "killed worker's batch is re-sent after it); keep it well above a batch's sending time.")
    serve_worker: bool | None = Field(
        default=None, description="Whether `siyu serve` also runs journeys, scheduled mass messages, service replies "
                                  "and the outbox dispatcher in-process; unset: on for the embedded SQLite file, off "
                                  "otherwise (run `siyu worker` beside the server).")

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"SIYU_TIMEZONE {v!r} is not an IANA time zone such as Asia/Shanghai") from exc
        return v

    @field_validator("public_url")
    @classmethod
    def _valid_public_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", v):
            raise ValueError(f"SIYU_PUBLIC_URL {v!r} must be an http(s) URL such as https://scrm.example.com")
        return v.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _key_length(cls, v: str) -> str:
        if v and len(v) < 32:
            raise ValueError("SIYU_SECRET_KEY must be at least 32 characters")
        return v

    @model_validator(mode="after")
    def _prod_needs_key(self) -> Settings:
        if self.env == "prod" and not self.secret_key:
            raise ValueError("SIYU_SECRET_KEY is required when SIYU_ENV=prod (at least 32 characters)")
        return self

    @property
    def effective_database_url(self) -> str:
        """Return the configured URL, or the embedded SQLite file under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'siyu.db'}"

    @property
    def effective_secret_key(self) -> str:
        """Return the secret key; in dev/test without one, a fixed development key."""
        if self.secret_key:
            return self.secret_key
        if self.env == "prod":
            raise ValueError("SIYU_SECRET_KEY is required when SIYU_ENV=prod")
        return "siyu-development-key-do-not-use-in-production!"

    @property
    def server_runs_worker(self) -> bool:
        """Return whether `siyu serve` runs the engagement loops itself (SIYU_SERVE_WORKER, else: on SQLite)."""
        if self.serve_worker is not None:
            return self.serve_worker
        return self.effective_database_url.startswith("sqlite")

    @property
    def tz(self) -> ZoneInfo:
        """Return the brand's time zone."""
        return ZoneInfo(self.timezone)

    def csv_set(self, value: str) -> frozenset[str]:
        """Split a comma-separated setting into a set of trimmed items."""
        return frozenset(x.strip() for x in value.split(",") if x.strip())


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached)."""
    return Settings()
