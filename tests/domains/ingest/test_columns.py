"""The column-wise CSV path accepts exactly what the per-item path accepts, as the same facts, and declines the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.cli.import_files import CsvMapper, RowError
from siyu.config import Settings
from siyu.domains.ingest.columns import prepare_event_columns
from siyu.domains.ingest.service import IngestContext, event_outcome
from siyu.kit.time import UTC

HEADER = ["event_id", "type", "occurred_at", "channel", "id.phone", "id.openid:wx123", "id.unionid",
          "prop.content_id", "prop.topic", "properties"]
CTX = IngestContext.from_settings(Settings(data_dir=Path("/tmp"), secret_key="test-secret-key-0123456789abcdef0123456789",
                                           env="test", max_properties_bytes=256))
MAPPER = CsvMapper("events", HEADER)
COLUMNS = MAPPER.event_columns()

EVENT_IDS = ["e1", "e2", " e1", "e1 ", "", "x" * 128, "x" * 129, "e\u3000", "a\x1c", "订单-1"]
TYPES = ["content_viewed", "page_viewed", " content_viewed", "contact_added", "group_joined", "consent_granted",
         "acme.quiz_done", "Bogus", "", "acme." + "a" * 75, "acme." + "a" * 76]
TIMES = ["1795000000", "0", "20000000000", "20000000001", "1795000000123", "99999999999999", "100000000000000",
         "-5", "1.5", "2026-01-01T10:00:00+08:00", "2026-01-01 10:00:00Z", "2026-01-01T10:00:00.123Z",
         "2026-01-01T10:00:00.1234567Z", "2026-02-30T10:00:00Z", "2026-01-01T10:00:00", "2026-01-01T10:00:00+0800",
         "2026-01-01T10:00:00-23:59", "2026-01-01T24:00:00Z", "2026-01-01T10:00Z", "²", "١٢٣", "", " 1795000000"]
CHANNELS = ["", "app", " app", "x" * 64, "x" * 65]
PHONES = ["", "13912345678", "+86 139-1234-5678", "null", "0", "12345", "13800138000", "1391234567８"]
OPENIDS = ["", "oABCDEF001", "oABCDEF002", "bad value!", "undefined", " oABCDEF001", "NaN"]
UNIONIDS = ["", "uABCDEF001", "u1", "[object Object]"]
PROPS = ["", "c1", "茶", "x" * 60, "\x01" * 30]
JSON_PROPS = ["", "{}", '{"a": 1}', '{" a": 1}', '{"content_id": "j"}', "[1]", "null", "{broken", '{"big": "' + "y" * 300 + '"}']

ROW = st.tuples(*(st.sampled_from(v) for v in (EVENT_IDS, TYPES, TIMES, CHANNELS, PHONES, OPENIDS, UNIONIDS, PROPS,
                                               PROPS, JSON_PROPS))).map(list)


def _per_item(row: list[str]):
    try:
        item = MAPPER(row)
    except RowError as exc:
        return exc
    return event_outcome(CTX, item)


def _assert_same(fast, slow) -> None:
    assert isinstance(slow, tuple), f"the fast path accepted a row the per-item path refuses: {slow}"
    (f_event, f_norm), (s_event, s_norm) = fast, slow
    assert f_event == s_event
    assert f_event.occurred_at.tzinfo is UTC and s_event.occurred_at.tzinfo is UTC
    assert list(f_event.properties.items()) == list(s_event.properties.items())  # same order: stored as JSON
    assert (f_norm.items, f_norm.junk) == (s_norm.items, s_norm.junk)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, min_size=1, max_size=8))
def test_fast_path_accepts_only_what_the_per_item_path_accepts_and_the_same(rows):
    for row, fast in zip(rows, prepare_event_columns(CTX, COLUMNS, rows), strict=True):
        if fast is not None:
            _assert_same(fast, _per_item(row))


@given(st.integers(min_value=0, max_value=99_999_999_999_999))
def test_epoch_numbers_read_as_the_api_reads_them(number):
    row = ["e1", "content_viewed", str(number), "", "", "oABCDEF001", "", "", "", ""]
    (fast,) = prepare_event_columns(CTX, COLUMNS, [row])
    _assert_same(fast, _per_item(row))


@given(st.datetimes(timezones=st.timezones()), st.sampled_from(["T", " "]), st.booleans())
def test_iso_times_read_as_the_api_reads_them(when, sep, micro):
    text = when.isoformat(sep, "microseconds" if micro else "seconds")
    row = ["e1", "content_viewed", text, "", "", "oABCDEF001", "", "", "", ""]
    (fast,) = prepare_event_columns(CTX, COLUMNS, [row])
    if fast is not None:
        _assert_same(fast, _per_item(row))


@pytest.mark.parametrize("row", [
    ["e1", "content_viewed", "1795000000", "mini_program", "13912345678", "oABCDEF001", "uABCDEF001", "c1", "茶", ""],
    ["e2", "acme.quiz_done", "2026-01-01T10:00:00+08:00", "", "", "oABCDEF001", "", "", "", '{"a": [1, 2]}'],
    ["e3", "page_viewed", "2026-01-01 10:00:00.5Z", "app", "null", "oABCDEF002", "", "c2", "", ""],
    ["e4", "content_viewed", "1795000000123", "", "+86 139-1234-5678", "", "", "", "", ""],
])
def test_common_rows_take_the_fast_path(row):
    (fast,) = prepare_event_columns(CTX, COLUMNS, [row])
    assert fast is not None
    _assert_same(fast, _per_item(row))


@pytest.mark.parametrize("row", [
    ["e1", "contact_added", "1795000000", "", "", "oABCDEF001", "", "", "", '{"state": "s1"}'],  # state checked per item
    [" e1", "content_viewed", "1795000000", "", "", "oABCDEF001", "", "", "", ""],  # stripped by the API
    ["e1", "content_viewed", "1795000000", "", "12345", "oABCDEF001", "", "", "", ""],  # invalid phone
    ["e1", "content_viewed", "1795000000", "", "null", "", "", "", "", ""],  # only junk
    ["e1", "content_viewed", "1795000000"],  # short row
])
def test_rows_needing_a_verdict_are_left_to_the_per_item_path(row):
    assert prepare_event_columns(CTX, COLUMNS, [row]) == [None]


def test_headers_the_api_would_rewrite_turn_the_fast_path_off():
    assert CsvMapper("events", ["event_id", "type", "occurred_at", "id. phone"]).event_columns() is None
    assert CsvMapper("events", ["event_id", "type", "occurred_at", "id.phone", "id.phone"]).event_columns() is None
    assert CsvMapper("events", ["event_id", "type", "occurred_at", "id.phone", "prop.a", "prop.a"]).event_columns() is None
    assert CsvMapper("events", ["event_id", "type", "occurred_at", "id.phone"]).event_columns() is not None
