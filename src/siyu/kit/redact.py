"""Find and mask personal data inside free-form JSON (event and order ``properties``).

Identities and profile fields are protected by design (encrypted, masked, audited), but sources
also put personal data where Siyu cannot know it is there: a lead form's phone number in an event's
properties, a delivery address in an order's. Before such JSON is shown to someone who may not read
PII it goes through :func:`redact`, which masks

* values under keys that name personal data (``phone``, ``mobile``, ``name``, ``email``,
  ``address``, ``id_card`` and their Chinese forms such as 手机号, 姓名, 地址, 身份证), and
* anything inside any string that looks like a mainland mobile number, an email address or a
  resident ID card number, wherever it sits.

The scan is deliberately eager (an order number that happens to look like a mobile number is
masked too): over-masking costs a reader a digit, under-masking leaks a person.
"""

from __future__ import annotations

import re
from typing import Any

from siyu.kit.crypto import mask_email, mask_generic, mask_name, mask_phone

_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ID_CARD = re.compile(r"(?<![\dXx])(\d{6})(\d{8})(\d{3}[\dXx])(?![\dXx])")

_KEY_PARTS = ("phone", "mobile", "tel", "email", "mail", "address", "addr", "id_card", "idcard", "id_no",
              "passport", "手机", "电话", "邮箱", "地址", "身份证", "证件", "姓名", "联系人", "收件人", "收货人")
_NAME_KEYS = frozenset({"name", "real_name", "realname", "full_name", "fullname", "contact", "contact_name",
                        "receiver", "receiver_name", "consignee", "nickname", "姓名", "联系人", "收件人", "收货人"})


def _sensitive_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in _NAME_KEYS or any(part in lowered for part in _KEY_PARTS)


def _mask_key_value(key: str, value: str) -> str:
    lowered = key.lower()
    if lowered in _NAME_KEYS:
        return mask_name(value)
    if "mail" in lowered or "邮箱" in lowered:
        return mask_email(value)
    if any(part in lowered for part in ("phone", "mobile", "tel", "手机", "电话")):
        digits = re.sub(r"\D", "", value)
        return mask_phone(digits[-11:]) if len(digits) >= 7 else mask_generic(value)
    return mask_generic(value)


def _scan(text: str) -> str:
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(3)}", text)
    return _EMAIL.sub(lambda m: mask_email(m.group(0)), text)


def redact(value: Any) -> tuple[Any, bool]:
    """Return ``value`` with personal data masked, and whether anything was masked."""
    found = False

    def walk(node: Any, key: str | None) -> Any:
        nonlocal found
        if isinstance(node, dict):
            return {k: walk(v, str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        if isinstance(node, (int, float)) and not isinstance(node, bool) and key is not None and _sensitive_key(key):
            found = True
            return mask_generic(str(node))
        if not isinstance(node, str) or not node:
            return node
        masked = _mask_key_value(key, node) if key is not None and _sensitive_key(key) else _scan(node)
        if masked != node:
            found = True
        return masked

    return walk(value, None), found
