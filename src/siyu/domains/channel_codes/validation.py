"""Pure checks of a channel code's settings; each failure is a SiyuError with a stable code.

``state`` is what WeCom echoes back on the add event: at most 30 characters (WeCom's limit), and we
allow only letters, digits and ``_ - .`` so it survives URLs, QR payloads and log lines unescaped.
Working hours (``{"mon": [["09:00", "18:00"], …], …}`` in the brand's time zone) are checked by
``siyu.kit.working_hours``, shared with the service domain; ``check_working_hours`` and ``WEEKDAYS``
are re-exported here for this domain's callers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from siyu.errors import ValidationFailed
from siyu.kit.working_hours import WEEKDAYS, check_working_hours

PLATFORMS = ("douyin", "xiaohongshu", "taobao", "meituan", "weibo", "bilibili", "wechat_oa", "mini_program",
             "app", "store", "poster", "parcel", "other")
STRATEGIES = ("fixed", "round_robin", "weighted", "least_loaded")
MAX_STATE = 30
MAX_TAGS = 20
MAX_TEMPLATE = 4000
MAX_POOL = 200
__all__ = ["MAX_POOL", "MAX_STATE", "MAX_TAGS", "MAX_TEMPLATE", "MAX_URL", "PLATFORMS", "STRATEGIES", "WEEKDAYS",
           "PoolEntry", "check_channel", "check_landing_url", "check_name", "check_platform", "check_pool",
           "check_state", "check_strategy", "check_tags", "check_template", "check_working_hours"]

_STATE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
MAX_URL = 500


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """A pool member as given by a caller: WeCom userid, weight, optional daily cap."""

    userid: str
    weight: int = 1
    daily_cap: int | None = None


def check_name(name: str) -> str:
    """Return the trimmed code name, or raise ``invalid_name``."""
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > 80:
        raise ValidationFailed("name must be 1-80 characters", code="invalid_name")
    return cleaned


def check_state(state: str) -> str:
    """Return ``state`` if WeCom will accept and echo it unchanged, else raise ``invalid_state``."""
    if not isinstance(state, str) or not state or len(state) > MAX_STATE:
        raise ValidationFailed(f"state must be 1-{MAX_STATE} characters", code="invalid_state", state=state)
    if not _STATE.match(state):
        raise ValidationFailed("state may contain only letters, digits, '_', '-' and '.'", code="invalid_state",
                               state=state)
    return state


def check_platform(platform: str) -> str:
    """Return ``platform`` if it is a known source platform, else raise ``invalid_platform``."""
    if platform not in PLATFORMS:
        raise ValidationFailed(f"platform must be one of {', '.join(PLATFORMS)}", code="invalid_platform",
                               platform=platform)
    return platform


def check_strategy(strategy: str) -> str:
    """Return ``strategy`` if known, else raise ``invalid_strategy``."""
    if strategy not in STRATEGIES:
        raise ValidationFailed(f"strategy must be one of {', '.join(STRATEGIES)}", code="invalid_strategy",
                               strategy=strategy)
    return strategy


def check_channel(channel: str | None) -> str | None:
    """Return the trimmed free-text channel label (<= 80 characters) or None."""
    cleaned = channel.strip() if isinstance(channel, str) else None
    if cleaned and len(cleaned) > 80:
        raise ValidationFailed("channel must be at most 80 characters", code="invalid_channel")
    return cleaned or None


def check_pool(pool: list[PoolEntry]) -> list[PoolEntry]:
    """Return the pool if it is non-empty, without duplicates, with sane weights and caps."""
    if not pool:
        raise ValidationFailed("the staff pool must name at least one staff member", code="empty_pool")
    if len(pool) > MAX_POOL:
        raise ValidationFailed(f"the staff pool may hold at most {MAX_POOL} members", code="invalid_pool")
    seen: set[str] = set()
    for entry in pool:
        if entry.userid in seen:
            raise ValidationFailed(f"staff {entry.userid!r} appears twice in the pool", code="duplicate_staff")
        seen.add(entry.userid)
        if not 1 <= entry.weight <= 1000:
            raise ValidationFailed("weight must be between 1 and 1000", code="invalid_weight", userid=entry.userid)
        if entry.daily_cap is not None and not 1 <= entry.daily_cap <= 100000:
            raise ValidationFailed("daily_cap must be between 1 and 100000 (or empty for no cap)",
                                   code="invalid_daily_cap", userid=entry.userid)
    return pool


def check_tags(tags: list[str] | None) -> list[str]:
    """Return tag names trimmed and de-duplicated in order, or raise ``invalid_tag``."""
    result: list[str] = []
    for tag in tags or []:
        cleaned = tag.strip() if isinstance(tag, str) else ""
        if not cleaned or len(cleaned) > 64:
            raise ValidationFailed("a tag name must be 1-64 characters", code="invalid_tag", tag=tag)
        if cleaned not in result:
            result.append(cleaned)
    if len(result) > MAX_TAGS:
        raise ValidationFailed(f"a code may apply at most {MAX_TAGS} tags", code="invalid_tag")
    return result


def check_template(template: str | None) -> str | None:
    """Return the welcome template (None when blank), or raise ``invalid_welcome_template``."""
    if template is None or not template.strip():
        return None
    if len(template) > MAX_TEMPLATE:
        raise ValidationFailed(f"welcome_template must be at most {MAX_TEMPLATE} characters",
                               code="invalid_welcome_template")
    return template


def check_landing_url(url: str | None) -> str | None:
    """Return the trimmed http(s) URL a code's landing link sends scans to, None to unset, or raise."""
    cleaned = url.strip() if isinstance(url, str) else None
    if not cleaned:
        return None
    if len(cleaned) > MAX_URL or not _URL.match(cleaned):
        raise ValidationFailed(f"landing_url must be an http(s) URL of at most {MAX_URL} characters, such as the "
                               "WeCom 联系我 link of this code", code="invalid_landing_url")
    return cleaned
