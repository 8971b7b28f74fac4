"""Channel codes' printed QR codes and the public landing link they encode."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.channel_codes import service as codes
from siyu.domains.channel_codes.models import ChannelCodeDaily
from siyu.errors import NotFound
from siyu.kit.time import UTC
from siyu.kit.qr import qr_image

WECOM = "https://work.weixin.qq.com/ca/cawcde0123456789"


def _scans(engine: Engine, code_id: int) -> dict[str, int]:
    with unit_of_work(engine, write=False) as s:
        rows = s.execute(select(ChannelCodeDaily.day, ChannelCodeDaily.scans).where(ChannelCodeDaily.code_id == code_id))
        return {day.isoformat(): n for day, n in rows if n}


def _state(engine: Engine, code_id: int) -> str:
    with unit_of_work(engine, write=False) as s:
        return codes.get_code(s, code_id).code.state


def test_qr_images_encode_the_landing_link(console, brand, db_engine: Engine, settings: Settings) -> None:
    link = f"{settings.public_url}/c/{_state(db_engine, brand.code)}"
    client = console("ana")  # analysts may look at codes, so they may print them
    png = client.get(f"/channel-codes/{brand.code}/qr.png")
    svg = client.get(f"/channel-codes/{brand.code}/qr.svg")
    assert png.status_code == svg.status_code == 200
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png.headers["content-disposition"].startswith("attachment; filename=\"channel-code-")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    assert png.content == qr_image(link, "png") and svg.content == qr_image(link, "svg")
    assert qr_image(link + "x", "png") != png.content  # the image depends on the link it encodes
    page = client.get(f"/channel-codes/{brand.code}").text
    assert f'data-testid="landing-link">{link}<' in page and 'data-testid="qr-png"' in page
    assert client.get(f"/channel-codes/{brand.code}/qr.gif").status_code == 404
    assert console("alice_u").get(f"/channel-codes/{brand.code}/qr.png").status_code == 403
    assert console(None).get(f"/channel-codes/{brand.code}/qr.png", follow_redirects=False).status_code in (302, 303)


def test_a_scan_is_counted_and_sent_on_to_the_wecom_link(console, brand, db_engine: Engine) -> None:
    state = _state(db_engine, brand.code)
    anonymous = console(None)
    unlinked = anonymous.get(f"/c/{state}", follow_redirects=False)
    assert unlinked.status_code == 200 and 'data-testid="landing-unlinked"' in unlinked.text
    client = console("ops")
    client.page(f"/channel-codes/{brand.code}/edit")
    form = {"name": "门店海报", "platform": "store", "strategy": "round_robin", "state": state, "pool": "alice",
            "landing_url": WECOM, "active": "1"}
    assert client.submit(f"/channel-codes/{brand.code}/edit", form, follow_redirects=False).status_code == 303
    sent = anonymous.get(f"/c/{state}", follow_redirects=False)
    assert (sent.status_code, sent.headers["location"]) == (302, WECOM)
    assert sum(_scans(db_engine, brand.code).values()) == 2
    assert 'data-testid="code-scans">2<' in client.get(f"/channel-codes/{brand.code}").text
    assert anonymous.get("/c/no-such-state").status_code == 404
    assert anonymous.get("/c/" + "x" * 40).status_code == 404
    assert sum(_scans(db_engine, brand.code).values()) == 2


def test_a_bad_landing_url_is_refused_beside_its_field(console, brand, db_engine: Engine) -> None:
    client = console("ops")
    client.page(f"/channel-codes/{brand.code}/edit")
    form = {"name": "门店海报", "platform": "store", "strategy": "round_robin", "pool": "alice",
            "landing_url": "javascript:alert(1)", "active": "1"}
    res = client.submit(f"/channel-codes/{brand.code}/edit", form)
    assert res.status_code == 422 and 'data-field="landing_url">' in res.text
    with unit_of_work(db_engine, write=False) as s:
        assert codes.get_code(s, brand.code).code.landing_url is None


def test_scans_count_on_the_brand_day_and_inactive_codes_take_none(db_engine: Engine, brand, settings: Settings) -> None:
    state = _state(db_engine, brand.code)
    with unit_of_work(db_engine) as s:
        codes.record_scan(s, settings, state, now=datetime(2026, 3, 1, 15, 59, tzinfo=UTC))  # 23:59 in Shanghai
        codes.record_scan(s, settings, state, now=datetime(2026, 3, 1, 16, 0, tzinfo=UTC))  # 00:00 next day
        codes.record_scan(s, settings, state, now=datetime(2026, 3, 1, 16, 5, tzinfo=UTC))
    assert _scans(db_engine, brand.code) == {"2026-03-01": 1, "2026-03-02": 2}
    with unit_of_work(db_engine) as s:
        codes.deactivate_code(s, brand.code)
    with unit_of_work(db_engine) as s, pytest.raises(NotFound) as refused:
        codes.record_scan(s, settings, state)
    assert refused.value.code == "unknown_state"
