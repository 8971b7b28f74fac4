"""The controls of the analysis pages: read as typed, checked by the analytics services, errors by field.

A page reads its query with :class:`Controls` (each value as typed, for the form to show again) and
builds the service's parameters from it; the parameters' own ``check`` (the one the API and the CLI
run) finds what cannot be used, and :meth:`Controls.refused` puts its message beside the field it
names. Only what a service cannot see is checked here: that a date is a date, a number a number.
The funnel and GMV pages use the same class and the ``analytics/_macros.html`` controls bar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from siyu.analytics.rfm import RfmParams, Thresholds
from siyu.errors import ValidationFailed
from siyu.kit.time import local_day, utcnow
from siyu.web.console.i18n import Translator
from siyu.web.console.render import translator

@dataclass
class Controls:
    """A page's query: values as typed, and the errors found in them by field."""

    request: Request
    t: Translator
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request) -> Controls:
        """Return the controls of ``request`` with nothing read yet."""
        return cls(request, translator(request))

    @property
    def today(self) -> date:
        """Return today in the brand's calendar."""
        return local_day(utcnow(), self.request.app.state.settings.tz)

    def raw(self, name: str, default: str = "") -> str:
        """Return the typed value of ``name`` (``default`` when the field was not sent), remembered for the form."""
        sent = self.request.query_params.get(name)
        value = (default if sent is None else sent).strip()
        self.values[name] = value
        return value

    def day(self, name: str, default: date | None) -> date | None:
        """Return the day typed in ``name`` (``default`` when not sent; None when left empty)."""
        value = self.raw(name, default.isoformat() if default else "")
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors[name] = self.t("analytics.error.bad_date")
            return None

    def number(self, name: str, default: int) -> int:
        """Return the whole number typed in ``name`` (``default`` when not sent or not a whole number).

        Its range is the service's to check (``check``), so the console refuses what the API refuses.
        """
        value = self.raw(name, str(default))
        if not (value.lstrip("-").isdigit() and len(value) <= 9):
            self.errors[name] = self.t("analytics.error.number")
            return default
        return int(value)

    def choice(self, name: str, options: Sequence[str], default: str) -> str:
        """Return the option chosen in ``name`` (``default`` when it is not one of ``options``)."""
        value = self.raw(name, default)
        if value not in options:
            self.errors[name] = self.t("analytics.error.choice")
            return default
        return value

    def check(self, run: Callable[[], Any], fields: dict[str, str] | None = None) -> None:
        """Run a service's check; put a refusal beside its field (``fields`` renames the service's names)."""
        try:
            run()
        except ValidationFailed as exc:
            self.refused(exc, fields or {})

    def refused(self, exc: ValidationFailed, fields: dict[str, str]) -> None:
        """Put the service's refusal beside the form field it names, in the page's language when known."""
        named = str(exc.details.get("field") or "")
        name = fields.get(named, named) or "form"
        key = f"analytics.error.{exc.code}"
        if self.t.has(f"{key}.{named}"):
            key = f"{key}.{named}"
        message = self.t(key, today=self.today.isoformat()) if self.t.has(key) else exc.message
        self.errors.setdefault(name, message)

    def query(self, **extra: str) -> str:
        """Return the typed values as a query string (to ask for the result or a link again)."""
        return urlencode({**self.values, **extra})


def default_as_of(controls: Controls) -> date:
    """Return the default as-of day: yesterday, the last whole day of the brand's calendar."""
    return controls.today - timedelta(days=1)


def dated(c: Controls, window_days: int, compare_days: int | None,
          thresholds: Thresholds | None = None) -> tuple[RfmParams | None, RfmParams | None]:
    """Return the parameters at the as-of day and at the earlier day to compare with (None: left empty).

    Reads ``as_of`` (default yesterday), ``window_days`` and, unless ``compare_days`` is None,
    ``compare_to`` (default ``compare_days`` before the as-of day); the service checks both days.
    """
    as_of = c.day("as_of", default_as_of(c))
    window = c.number("window_days", window_days)
    compare_to = None
    if compare_days is not None:
        compare_to = c.day("compare_to", as_of - timedelta(days=compare_days) if as_of else None)
    if as_of is None:
        c.errors.setdefault("as_of", c.t("analytics.error.required"))
        return None, None
    params = RfmParams(as_of, window, thresholds)
    c.check(lambda: params.check(c.today))
    earlier = RfmParams(compare_to, window, thresholds) if compare_to else None
    if earlier is not None:
        c.check(lambda: earlier.check(c.today), {"as_of": "compare_to"})
        if earlier.as_of >= as_of:
            c.errors.setdefault("compare_to", c.t("analytics.error.compare_before"))
    return params, earlier
