"""Identity review queue and merge/unmerge from the 360 page (admins and operators)."""

from __future__ import annotations

import re

from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.identity import IdentityIssue
from siyu.domains.identity import service as identity


def _issue(db_engine: Engine, brand, category: str = "conflict") -> int:
    with unit_of_work(db_engine) as s:
        identity.record_junk(s, identity.junk_issue_rows([("phone", "138****0000")], "event", "ev-1"))
        row = s.scalars(select(IdentityIssue)).one()
        row.category, row.customer_id, row.other_customer_id = category, brand.zhang, brand.li
        return row.id


def test_review_queue_lists_open_items_with_links(console, brand, db_engine: Engine) -> None:
    issue_id = _issue(db_engine, brand)
    res = console("ops").get("/identity/review")
    assert res.status_code == 200
    assert f'data-issue-id="{issue_id}"' in res.text
    assert f'href="/customers/{brand.zhang}"' in res.text and f'href="/customers/{brand.li}"' in res.text
    assert "身份冲突" in res.text


def test_resolve_and_dismiss_close_items_with_audit(console, brand, db_engine: Engine) -> None:
    issue_id = _issue(db_engine, brand)
    client = console("ops")
    client.page("/identity/review")
    res = client.submit(f"/identity/review/{issue_id}/resolve", {"resolution": "同一人，已人工合并",
                                                                 "outcome": "resolved"}, follow_redirects=False)
    assert res.status_code == 303
    assert f'data-issue-id="{issue_id}"' not in client.get("/identity/review").text
    closed = client.get("/identity/review", params={"status": "resolved"}).text
    assert f'data-issue-id="{issue_id}"' in closed and "同一人，已人工合并" in closed
    with unit_of_work(db_engine, write=False) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "identity_issue.resolve")).one()
    assert (entry.actor, entry.target_id) == ("user:ops", str(issue_id))


def test_resolving_needs_a_note_shown_beside_the_item(console, brand, db_engine: Engine) -> None:
    issue_id = _issue(db_engine, brand)
    client = console("ops")
    client.page("/identity/review")
    res = client.submit(f"/identity/review/{issue_id}/resolve", {"resolution": " ", "outcome": "resolved"})
    assert res.status_code == 422
    assert re.search(rf'data-issue-id="{issue_id}".*?data-field="resolution">请填写原因', res.text, re.DOTALL)


def test_merge_then_unmerge_from_the_360_page(console, brand, db_engine: Engine) -> None:
    client = console("admin")
    client.page(f"/customers/{brand.zhang}")
    conflict = client.submit(f"/customers/{brand.zhang}/merge", {"other_customer_id": str(brand.li),
                                                                  "reason": "同一人"})
    assert conflict.status_code == 422 and "唯一身份" in conflict.text  # two different phones
    merged = client.submit(f"/customers/{brand.zhang}/merge", {"other_customer_id": str(brand.li),
                                                                "reason": "同一人", "force": "1"},
                           follow_redirects=False)
    assert (merged.status_code, merged.headers["location"]) == (303, f"/customers/{brand.zhang}")
    page = client.page(f"/customers/{brand.zhang}").text
    assert "13912345678" in page and f'action="/customers/{brand.zhang}/unmerge"' in page
    old = client.get(f"/customers/{brand.li}")  # the merged id shows its survivor, with a notice
    assert old.status_code == 200 and f"客户 #{brand.li} 已合并到 #{brand.zhang}" in old.text
    merge_id = re.search(r'name="merge_id" value="(\d+)"', page).group(1)
    empty = client.submit(f"/customers/{brand.zhang}/unmerge", {"merge_id": merge_id, "reason": ""})
    assert empty.status_code == 422 and f'data-field="unmerge_{merge_id}"' in empty.text
    undone = client.submit(f"/customers/{brand.zhang}/unmerge", {"merge_id": merge_id, "reason": "误合并"},
                           follow_redirects=False)
    assert undone.status_code == 303
    assert "13912345678" not in client.get(f"/customers/{brand.zhang}").text
    with unit_of_work(db_engine, write=False) as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "user:admin",
                                                                 AuditEntry.action.like("customer.%merge"))))
    assert actions == ["customer.merge", "customer.unmerge"]


def test_merge_form_validates_the_other_id(console, brand) -> None:
    client = console("ops")
    client.page(f"/customers/{brand.zhang}")
    res = client.submit(f"/customers/{brand.zhang}/merge", {"other_customer_id": "abc", "reason": ""})
    assert res.status_code == 422
    assert 'data-field="other_customer_id">请输入客户编号' in res.text
    assert 'data-field="reason">请填写原因' in res.text


def test_analysts_see_the_graph_but_cannot_merge(console, brand) -> None:
    client = console("ana")
    page = client.page(f"/customers/{brand.zhang}").text
    assert 'data-chart="identity-graph"' in page and "/merge" not in page
    assert client.submit(f"/customers/{brand.zhang}/merge", {"other_customer_id": str(brand.li),
                                                              "reason": "x"}).status_code == 403


def test_split_identities_into_a_new_customer(console, brand, db_engine: Engine) -> None:
    client = console("ops")
    page = client.page(f"/customers/{brand.zhang}").text
    ids = re.findall(r'name="identity_id" value="(\d+)"', page)
    assert len(ids) == 2  # phone and external_userid
    none = client.submit(f"/customers/{brand.zhang}/split", {"reason": "不同的人"})
    every = client.post(f"/customers/{brand.zhang}/split", data={"csrf_token": client.csrf, "identity_id": ids,
                                                                   "reason": "不同的人"})
    assert (none.status_code, every.status_code) == (422, 422)
    assert 'data-field="split">请至少选择一个身份' in none.text
    assert 'data-field="split">请选择部分而不是全部身份' in every.text
    res = client.submit(f"/customers/{brand.zhang}/split", {"identity_id": ids[1], "reason": "不同的人"},
                        follow_redirects=False)
    assert res.status_code == 303
    new_id = int(res.headers["location"].rsplit("/", 1)[1])
    assert new_id not in (brand.zhang, brand.li, brand.xss)
    assert len(re.findall(r'name="identity_id"', client.get(f"/customers/{brand.zhang}").text)) == 0  # one left
    with unit_of_work(db_engine, write=False) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.split")).one()
    assert entry.detail["new_customer_id"] == new_id and entry.actor == "user:ops"


def test_staff_and_analysts_cannot_split(console, brand) -> None:
    assert 'data-testid="split-form"' not in console("ana").get(f"/customers/{brand.zhang}").text
    staff = console("alice_u")
    staff.page(f"/customers/{brand.zhang}")
    assert staff.submit(f"/customers/{brand.zhang}/split", {"identity_id": "1", "reason": "x"}).status_code == 403
