"""Identity kinds: how each is normalised, whether it is PII, unique per person, and how specific.

Specificity decides the *anchor* of a fact (the identity it is stored under): the most specific
identity wins (a device/app-scoped openid before a shared phone), so that splitting a wrongly
merged identity later takes exactly the facts that came through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from siyu.kit.crypto import mask_email, mask_generic, mask_phone

JUNK_VALUES = frozenset({"", "null", "undefined", "0", "none", "anonymous", "nan", "[object object]", "nil", "n/a"})

_PHONE_STRIP = re.compile(r"[\s\-().]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,24}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{6,128}$")
_OPAQUE = re.compile(r"^[A-Za-z0-9_.:@\-]{6,128}$")
_CODE = re.compile(r"^\S{1,64}$")
_OPENID_KIND = re.compile(r"^openid:[A-Za-z0-9_]{2,40}$")
_CUSTOM_KIND = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class IdentityError(ValueError):
    """A value that cannot become an identity; ``code`` is the machine code for the API."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _phone(raw: str) -> str:
    value = _PHONE_STRIP.sub("", raw)
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    elif value.startswith("86") and len(value) == 13:
        value = value[2:]
    if not _MOBILE.match(value):
        raise IdentityError("invalid_identity", f"phone {mask_generic(raw)!r} is not a valid mainland mobile number (11 digits starting 13-19)")
    return value


def _pattern(regex: re.Pattern[str], what: str, lower: bool = False) -> Callable[[str], str]:
    def norm(raw: str) -> str:
        value = raw.strip()
        value = value.lower() if lower else value
        if not regex.match(value):
            raise IdentityError("invalid_identity", f"{what} {mask_generic(raw)!r} is malformed")
        return value

    return norm


@dataclass(frozen=True)
class KindSpec:
    """The rules of one identity kind."""

    name: str
    normalise: Callable[[str], str]
    pii: bool = False
    specificity: int = 50  # higher anchors first
    mask: Callable[[str], str] = mask_generic

    def __reduce__(self) -> tuple[Callable[[str], KindSpec], tuple[str]]:
        # specs are module constants holding closures: pickle (to an import worker) by name
        return _spec_named, (self.name,)


BUILTIN: dict[str, KindSpec] = {
    "phone": KindSpec("phone", _phone, pii=True, specificity=10, mask=mask_phone),
    "email": KindSpec("email", _pattern(_EMAIL, "email", lower=True), pii=True, specificity=15, mask=mask_email),
    "member_no": KindSpec("member_no", _pattern(_CODE, "member_no"), specificity=20),
    "unionid": KindSpec("unionid", _pattern(_TOKEN, "unionid"), specificity=30),
    "app_user_id": KindSpec("app_user_id", _pattern(_CODE, "app_user_id"), specificity=60),
    "douyin_openid": KindSpec("douyin_openid", _pattern(_OPAQUE, "douyin_openid"), specificity=70),
    "external_userid": KindSpec("external_userid", _pattern(_TOKEN, "external_userid"), specificity=80),
}
OPENID = KindSpec("openid", _pattern(_TOKEN, "openid"), specificity=90)
CUSTOM = KindSpec("custom", _pattern(_CODE, "identity"), specificity=40)


def _spec_named(name: str) -> KindSpec:
    """Return the module's spec called ``name`` (the unpickling side of KindSpec.__reduce__)."""
    return BUILTIN.get(name) or {"openid": OPENID, "custom": CUSTOM}[name]


class KindRegistry:
    """Known kinds: the built-ins, ``openid:<appid>`` and kinds registered by configuration."""

    def __init__(self, extra: frozenset[str] = frozenset(), unique: frozenset[str] = frozenset()):
        for name in extra:
            if not _CUSTOM_KIND.match(name) or name in BUILTIN or name.startswith("openid"):
                raise ValueError(f"SIYU_EXTRA_IDENTITY_KINDS: {name!r} must be lower_snake_case and not a built-in kind")
        self.extra = extra
        self.unique = unique

    def spec(self, kind: str) -> KindSpec:
        """Return the rules of ``kind`` or raise IdentityError(unknown_identity_kind)."""
        found = BUILTIN.get(kind)
        if found:
            return found
        if _OPENID_KIND.match(kind):
            return OPENID
        if kind in self.extra:
            return CUSTOM
        raise IdentityError("unknown_identity_kind", f"identity kind {kind[:80]!r} is unknown; use phone, unionid, "
                            "openid:<appid>, external_userid, douyin_openid, app_user_id, member_no, email or a registered kind")

    def is_unique(self, kind: str) -> bool:
        """Return whether one person may hold only one value of ``kind``."""
        return kind in self.unique


def is_junk(value: str, test_numbers: frozenset[str]) -> bool:
    """Return whether a raw value is a placeholder that must never link anyone."""
    text = value.strip()
    return text.lower() in JUNK_VALUES or text in test_numbers
