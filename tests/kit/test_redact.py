"""Masking personal data inside free-form properties."""

from __future__ import annotations

import pytest

from siyu.kit.redact import redact


@pytest.mark.parametrize(("value", "expected"), [
    ("call 13812345678 today", "call 138****5678 today"),
    ("+86 138-1234-5678", "138****5678"),
    ("8613812345678", "138****5678"),
    ("mail a.li@example.cn please", "mail a***@example.cn please"),
    ("身份证 11010519491231002X", "身份证 110105********002X"),
    ("order 1234567890123456789012", "order 1234567890123456789012"),  # too long for any pattern
    ("SKU-12", "SKU-12"),
])
def test_patterns_are_masked_anywhere_in_strings(value, expected):
    masked, found = redact({"note": value})
    assert masked == {"note": expected}
    assert found is (value != expected)


def test_keys_that_name_personal_data_mask_their_values_whatever_they_hold():
    masked, found = redact({"name": "张三丰", "contact_phone": "138 1234 5678", "email": "li@x.cn",
                            "收货地址": "上海市黄浦区南京东路1号", "level": 3, "id_card": 110105194912310021})
    assert found
    assert masked == {"name": "张**", "contact_phone": "138****5678", "email": "l***@x.cn",
                      "收货地址": "上海市…路1号", "level": 3, "id_card": "110…021"}


def test_nested_lists_and_objects_are_walked_and_clean_json_is_unchanged():
    clean = {"content_id": "c1", "tags": ["茶", "礼盒"], "depth": 3, "ok": True, "none": None}
    assert redact(clean) == (clean, False)
    masked, found = redact({"form": {"fields": [{"label": "手机", "value": "13912345678"}]}})
    assert found and masked == {"form": {"fields": [{"label": "手机", "value": "139****5678"}]}}
