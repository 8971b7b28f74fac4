"""The channel-code form: what a person types, read into the service's settings, and errors placed by field.

Text conventions (the same as ``siyu channel-code create``):
- pool: one member a line, ``USERID[:WEIGHT[:DAILY_CAP]]``;
- backup staff and tags: separated by commas (Chinese or ASCII) or new lines;
- working hours: per weekday, ``09:00-12:00, 13:00-18:00``; all days empty means "always", and once
  any day is filled, empty days are closed.
The service checks every value; this module only splits text and reports what it cannot split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from siyu.domains.channel_codes.service import CodeView, PoolEntry
from siyu.domains.channel_codes.validation import WEEKDAYS
from siyu.errors import SiyuError
from siyu.web.console.i18n import Translator

TEXT_FIELDS = ("name", "platform", "strategy", "state", "channel", "pool", "backup", "tags", "welcome_template",
               "landing_url")
_LIST_SPLIT = re.compile(r"[,，、\n]+")
_INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–~至]\s*(\d{1,2}:\d{2})\s*$")
FIELD_OF_CODE = {
    "invalid_name": "name", "invalid_platform": "platform", "invalid_strategy": "strategy",
    "invalid_channel": "channel", "invalid_state": "state", "duplicate_state": "state", "empty_pool": "pool",
    "invalid_pool": "pool", "duplicate_staff": "pool", "invalid_weight": "pool", "invalid_daily_cap": "pool",
    "invalid_working_hours": "working_hours", "invalid_tag": "tags", "invalid_welcome_template": "welcome_template",
    "invalid_landing_url": "landing_url",
}


@dataclass
class CodeForm:
    """The form as typed (to show it again) and the errors found, by field."""

    values: dict[str, str]
    hours: dict[str, str]
    active: bool = True
    errors: dict[str, str] = field(default_factory=dict)


def split_list(text: str) -> list[str]:
    """Return the non-empty items of a comma- or line-separated list."""
    return [item.strip() for item in _LIST_SPLIT.split(text or "") if item.strip()]


def read_form(form: FormData) -> CodeForm:
    """Return the typed values of a posted channel-code form."""
    values = {name: str(form.get(name) or "") for name in TEXT_FIELDS}
    hours = {day: str(form.get(f"hours_{day}") or "") for day in WEEKDAYS}
    return CodeForm(values=values, hours=hours, active=form.get("active") == "1")


def from_view(view: CodeView) -> CodeForm:
    """Return the form filled in with a code's current settings."""
    c = view.code
    pool = "\n".join(f"{m.staff.userid}:{m.weight}" + (f":{m.daily_cap}" if m.daily_cap else "") for m in view.pool)
    values = {"name": c.name, "platform": c.platform, "strategy": c.strategy, "state": c.state,
              "channel": c.channel or "", "pool": pool, "backup": ", ".join(b.userid for b in view.backups),
              "tags": ", ".join(c.tags or []), "welcome_template": c.welcome_template or "",
              "landing_url": c.landing_url or ""}
    hours = {day: ", ".join(f"{a}-{b}" for a, b in (c.working_hours or {}).get(day, [])) for day in WEEKDAYS}
    return CodeForm(values=values, hours=hours, active=c.active)


def _pool(text: str, t: Translator) -> list[PoolEntry]:
    entries = []
    for line in (ln.strip() for ln in (text or "").splitlines()):
        if not line:
            continue
        parts = line.split(":")
        if len(parts) > 3 or not parts[0] or not all(p.strip().isdigit() for p in parts[1:]):
            raise ValueError(t("codes.bad_pool_line", line=line))
        weight = int(parts[1]) if len(parts) > 1 else 1
        cap = int(parts[2]) if len(parts) > 2 else None
        entries.append(PoolEntry(userid=parts[0].strip(), weight=weight, daily_cap=cap))
    return entries


def _hours(hours: dict[str, str], t: Translator) -> dict[str, list[list[str]]]:
    result: dict[str, list[list[str]]] = {}
    for day, text in hours.items():
        intervals = []
        for part in split_list(text):
            match = _INTERVAL.match(part)
            if match is None:
                raise ValueError(t("codes.bad_hours", text=part))
            intervals.append([match.group(1).zfill(5), match.group(2).zfill(5)])
        if intervals:
            result[day] = intervals
    return result


def settings_of(form: CodeForm, t: Translator) -> dict[str, Any]:
    """Return the service's keyword settings for the form; unsplittable text is recorded in ``form.errors``."""
    v = form.values
    settings: dict[str, Any] = {"name": v["name"], "platform": v["platform"], "strategy": v["strategy"],
                                "state": v["state"].strip() or None, "channel": v["channel"],
                                "backup": split_list(v["backup"]), "tags": split_list(v["tags"]),
                                "welcome_template": v["welcome_template"], "landing_url": v["landing_url"]}
    try:
        settings["pool"] = _pool(v["pool"], t)
    except ValueError as exc:
        form.errors["pool"] = str(exc)
    try:
        settings["working_hours"] = _hours(form.hours, t)
    except ValueError as exc:
        form.errors["working_hours"] = str(exc)
    return settings


def place_error(form: CodeForm, exc: SiyuError, message: str) -> None:
    """Put a service error beside the field it concerns (staff errors: pool or backup, by the userids named)."""
    name = FIELD_OF_CODE.get(exc.code)
    if name is None and exc.code in ("unknown_staff", "staff_departed"):
        named = set(exc.details.get("userids") or [])
        name = "backup" if named & set(split_list(form.values["backup"])) else "pool"
    form.errors[name or "name"] = message
