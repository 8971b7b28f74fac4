"""`siyu content` and `siyu mass`: add, variant, render, recommend, metrics; create, preview, send once; bad input exits 2."""

from __future__ import annotations

import json

import pytest
from factories import make_customer, make_ownership, make_staff
from sqlalchemy import select
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.config import get_settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.domains.identity.models import Identity
from siyu.domains.segments import service as segments
from siyu.kit.crypto import PiiVault

SECRET = "cli-test-secret-key-0123456789abcdef0123"


@pytest.fixture
def cli(cli_store):
    runner, url = cli_store
    engine = make_engine(url)
    with unit_of_work(engine) as s:
        staff = make_staff(s, "s1")
        for name in ("甲", "乙"):
            c = make_customer(s, PiiVault(SECRET), name=name, city="上海",
                              identities={"external_userid": f"wm{name.encode().hex()}"})
            make_ownership(s, s.scalar(select(Identity).where(Identity.customer_id == c.id)), staff)
        segments.create_segment(s, name="上海", rule={"attribute": "city", "op": "eq", "value": "上海"}, actor="t",
                                tz=get_settings().tz)
    engine.dispose()
    yield runner


def _json(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_content_and_mass_commands(cli: CliRunner, tmp_path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("{{ name | default('亲') }}，春季上新 {{ link }}", encoding="utf-8")
    item = _json(cli.invoke(app, ["content", "add", "--kind", "text", "--title", "春季", "--body", f"@{body}",
                                  "--url", "https://brand.example/s", "--topic", "护肤"]))
    assert item["body"].startswith("{{ name") and item["topics"] == ["护肤"]  # type: ignore[index]
    cid = str(item["id"])  # type: ignore[index]
    assert _json(cli.invoke(app, ["content", "variant", cid, "--name", "B", "--body", "B {{ name }}"]))["name"] == "B"  # type: ignore[index]
    rendered = cli.invoke(app, ["content", "render", cid, "--customer", "1", "--variant", "B"])
    assert rendered.exit_code == 0 and rendered.output.strip() == "B 甲"
    rec = _json(cli.invoke(app, ["content", "recommend", "--customer", "1", "--seed", "3"]))
    assert rec["content_id"] == int(cid) and rec["candidates"][0]["parts"]["stage_fit"] == 0.5  # type: ignore[index]
    made = _json(cli.invoke(app, ["mass", "create", "--name", "上新", "--content", cid, "--segment", "上海"]))
    mid = str(made["id"])  # type: ignore[index]
    assert _json(cli.invoke(app, ["mass", "preview", mid]))["eligible"] == 2  # type: ignore[index]
    assert _json(cli.invoke(app, ["mass", "send", mid]))["recipients"] == 2  # type: ignore[index]
    again = cli.invoke(app, ["mass", "send", mid])
    assert again.exit_code == 2 and "mass_message_closed" in again.output
    m = _json(cli.invoke(app, ["content", "metrics", cid, "--by", "segment", "--segment", "上海"]))
    assert m["total"]["sent"] == 2 and m["rows"] == [{**m["total"], "key": "上海"}]  # type: ignore[index]
    for args, code in ((["content", "add", "--kind", "text", "--title", "x", "--body", "{% if %}"], "invalid_template"),
                       (["content", "show", "999"], "content_not_found"),
                       (["content", "add", "--kind", "hologram", "--title", "x"], "validation_error"),
                       (["mass", "create", "--name", "x", "--content", cid, "--segment", "无"], "segment_not_found")):
        bad = cli.invoke(app, args)
        assert bad.exit_code == 2 and code in bad.output, (args, bad.output)
