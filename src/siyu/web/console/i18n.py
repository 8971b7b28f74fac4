"""Message catalogues of the console: Simplified Chinese by default, English on request.

Each locale is one flat JSON file (``messages/<locale>.json``: ``{"key": "text with {placeholders}"}``)
loaded once at start-up. Templates show text only through ``t(key)``, so translating the console
is editing two files, with no build step (gettext's compiled .mo files would need one). A test
checks that both files hold the same keys and that every key the templates use exists.

The choice persists in the ``siyu_lang`` cookie; without it the console speaks Chinese.
"""

from __future__ import annotations

import json
import string
from functools import lru_cache
from pathlib import Path

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
LOCALE_COOKIE = "siyu_lang"
MESSAGES_DIR = Path(__file__).parent / "messages"
_FORMATTER = string.Formatter()


@lru_cache(maxsize=None)
def catalogue(locale: str) -> dict[str, str]:
    """Return the messages of ``locale`` (read once per process)."""
    with (MESSAGES_DIR / f"{locale}.json").open(encoding="utf-8") as fh:
        messages: dict[str, str] = json.load(fh)
    return messages


def placeholders(text: str) -> set[str]:
    """Return the ``{name}`` placeholders of a message."""
    return {name for _lit, name, _spec, _conv in _FORMATTER.parse(text) if name}


def pick_locale(cookie: str | None) -> str:
    """Return the locale a cookie value asks for, or the default."""
    return cookie if cookie in LOCALES else DEFAULT_LOCALE


class _Values(dict[str, object]):
    """Placeholder values; one a message names but the caller lacks renders empty rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""


class Translator:
    """Looks up messages of one locale; a missing key is a bug and shows as the key itself."""

    def __init__(self, locale: str):
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self._messages = catalogue(self.locale)

    def __call__(self, key: str, **values: object) -> str:
        """Return the message ``key`` with ``values`` filled in."""
        text = self._messages.get(key)
        if text is None:
            return key
        return text.format_map(_Values(values))  # literal braces are written {{ }} in the catalogues

    def has(self, key: str) -> bool:
        """Return whether the catalogue holds ``key``."""
        return key in self._messages
