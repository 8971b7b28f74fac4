"""Journey editing in the console: a template to start from, refusals placed by path, versions, publish and pause."""

from __future__ import annotations

import html
import re

import orjson
from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.journeys import service
from siyu.domains.journeys.templates import TEMPLATES, template

LOOP = {"trigger": {"type": "manual"}, "steps": [
    {"id": "a", "type": "add_tag", "tag": "x", "next": "b"},
    {"id": "b", "type": "remove_tag", "tag": "x", "next": "a"},
    {"id": "orphan", "type": "exit"}]}


def _textarea(page_html: str) -> object:
    match = re.search(r'<textarea name="definition"[^>]*>(.*?)</textarea>', page_html, re.S)
    assert match, "no definition box"
    return orjson.loads(html.unescape(match.group(1)))


def test_an_operator_starts_a_journey_from_a_template_and_publishes_it(console, brand, db_engine: Engine) -> None:
    ops = console("ops")
    listed = ops.page("/journeys")
    assert 'href="/journeys/new"' in listed.text and "新建旅程" in listed.text
    key = next(iter(TEMPLATES))
    form = ops.page(f"/journeys/new?template={key}")
    assert form.status_code == 200 and _textarea(form.text) == template(key)
    assert all(f'href="/journeys/new?template={k}"' in form.text for k in TEMPLATES)
    made = ops.submit("/journeys/new", {"name": "新人引导", "description": "d",
                                        "definition": orjson.dumps(template(key)).decode()}, follow_redirects=False)
    assert made.status_code == 303
    jid = int(made.headers["location"].rsplit("/", 1)[1])
    shown = ops.page(f"/journeys/{jid}")
    assert "草稿" in shown.text and f'action="/journeys/{jid}/publish"' in shown.text
    assert ops.submit(f"/journeys/{jid}/publish", follow_redirects=False).status_code == 303
    shown = ops.page(f"/journeys/{jid}")
    assert "运行中" in shown.text and f'action="/journeys/{jid}/pause"' in shown.text
    assert ops.submit(f"/journeys/{jid}/pause", follow_redirects=False).status_code == 303
    with unit_of_work(db_engine, write=False) as s:
        journey = service.get_journey(s, jid)
        assert (journey.name, journey.status, journey.description) == ("新人引导", "paused", "d")


def test_refusals_keep_the_text_and_name_each_problem_by_path_and_step(console, brand, db_engine: Engine) -> None:
    ops = console("ops")
    ops.page("/journeys/new")
    bad = ops.submit("/journeys/new", {"name": "环", "definition": orjson.dumps(LOOP).decode()})
    assert bad.status_code == 422
    paths = re.findall(r'data-field="definition" data-path="([^"]+)"', bad.text)
    assert paths, bad.text
    assert "orphan" in bad.text and _textarea(bad.text) == LOOP  # the unreachable step is named; the text is kept
    broken = ops.submit("/journeys/new", {"name": "坏", "definition": "{oops"})
    assert broken.status_code == 422 and 'data-path="$"' in broken.text and "{oops" in broken.text
    ok = ops.submit("/journeys/new", {"name": "唯一", "definition": orjson.dumps(template(next(iter(TEMPLATES)))).decode()},
                    follow_redirects=False)
    assert ok.status_code == 303
    ops.page("/journeys/new")
    twice = ops.submit("/journeys/new", {"name": "唯一", "definition": orjson.dumps(template(next(iter(TEMPLATES)))).decode()})
    assert twice.status_code == 422 and 'data-field="name"' in twice.text
    nameless = ops.submit("/journeys/new", {"name": " ", "definition": orjson.dumps(LOOP).decode()})
    assert nameless.status_code == 422 and 'data-field="name"' in nameless.text
    with unit_of_work(db_engine, write=False) as s:
        assert [j.name for j in service.list_journeys(s)] == ["唯一"]  # nothing refused was stored


def test_editing_a_published_journey_makes_a_new_version(console, brand, db_engine: Engine) -> None:
    first = {"trigger": {"type": "manual"}, "steps": [{"id": "t", "type": "add_tag", "tag": "甲"}]}
    second = {"trigger": {"type": "manual"}, "steps": [{"id": "t", "type": "add_tag", "tag": "乙"}]}
    with unit_of_work(db_engine) as s:
        jid = service.create_journey(s, name="打标", definition=first, actor="test").id
    ops = console("ops")
    draft = ops.page(f"/journeys/{jid}/edit")
    assert _textarea(draft.text) == first and 'data-testid="new-version-note"' not in draft.text
    assert ops.submit(f"/journeys/{jid}/edit", {"definition": orjson.dumps(second).decode()},
                      follow_redirects=False).status_code == 303
    with unit_of_work(db_engine) as s:
        assert [v.version for v in service.versions(s, jid)] == [1]  # a draft changes in place
        service.publish(s, jid, actor="test")
    running = ops.page(f"/journeys/{jid}/edit")
    assert 'data-testid="new-version-note"' in running.text and "第 2 版" in running.text
    refused = ops.submit(f"/journeys/{jid}/edit", {"definition": orjson.dumps(LOOP).decode()})
    assert refused.status_code == 422
    assert ops.submit(f"/journeys/{jid}/edit", {"definition": orjson.dumps(first).decode()},
                      follow_redirects=False).status_code == 303
    with unit_of_work(db_engine, write=False) as s:
        assert [(v.version, v.definition["steps"][0]["tag"]) for v in service.versions(s, jid)] == [(1, "乙"), (2, "甲")]


def test_only_editors_see_and_use_the_editor(console, brand, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        jid = service.create_journey(s, name="只读", actor="test",
                                     definition={"trigger": {"type": "manual"}, "steps": [{"id": "e", "type": "exit"}]}).id
    ana = console("ana")
    assert 'href="/journeys/new"' not in ana.page("/journeys").text
    assert 'data-testid="journey-actions"' not in ana.page(f"/journeys/{jid}").text
    assert ana.page("/journeys/new").status_code == 403
    assert ana.submit(f"/journeys/{jid}/publish").status_code == 403
    assert console("alice_u").page(f"/journeys/{jid}/edit").status_code == 403
    ops = console("ops")
    ops.page(f"/journeys/{jid}")
    not_running = ops.submit(f"/journeys/{jid}/pause")
    assert not_running.status_code == 409  # a draft cannot be paused: the error page says why
