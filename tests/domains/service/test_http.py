"""The service API: rules and FAQ CRUD, "what would answer this", staff settings, SLA report, clear 4xx."""

from __future__ import annotations

from factories import make_api_key, make_staff
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.web.app import create_app


def _client(db_engine: Engine, settings: Settings) -> tuple[TestClient, dict]:
    with unit_of_work(db_engine) as s:
        make_staff(s, "wang", "小王")
        make_staff(s, "li", "店长")
        _, key = make_api_key(s, "admin")
    return TestClient(create_app(settings, db_engine)), {"Authorization": f"Bearer {key}"}


def test_rules_crud_and_try_it(db_engine: Engine, settings: Settings) -> None:
    client, h = _client(db_engine, settings)
    with client:
        made = client.post("/api/v1/service/rules", headers=h, json={
            "name": "菜单", "match_type": "exact", "patterns": ["帮助"], "reply": "请选择：", "priority": 2,
            "options": [{"key": "1", "label": "发货", "reply": "48小时内发货"}]})
        assert made.status_code == 201, made.text
        rid = made.json()["id"]
        client.post("/api/v1/service/rules", headers=h, json={
            "name": "退货", "match_type": "contains", "patterns": ["退货"], "reply": "订单页申请"})
        tried = client.post("/api/v1/service/test", headers=h, json={"text": "帮助"}).json()
        assert (tried["kind"], tried["reply"], tried["rule_id"]) == ("rule", "请选择：\n1. 发货", rid)
        option = client.post("/api/v1/service/test", headers=h, json={"text": "1", "menu_rule_id": rid}).json()
        assert (option["kind"], option["reply"]) == ("menu_option", "48小时内发货")
        none = client.post("/api/v1/service/test", headers=h, json={"text": "你好"}).json()
        assert (none["kind"], none["reply"]) == ("handoff", None)
        patched = client.patch(f"/api/v1/service/rules/{rid}", headers=h, json={"enabled": False}).json()
        assert patched["enabled"] is False and patched["options"][0]["key"] == "1"
        assert [r["name"] for r in client.get("/api/v1/service/rules", headers=h).json()] == ["菜单", "退货"]
        assert client.delete(f"/api/v1/service/rules/{rid}", headers=h).status_code == 204
        missing = client.get(f"/api/v1/service/rules/{rid}", headers=h)
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "rule_not_found")


def test_bad_rules_get_clear_4xx(db_engine: Engine, settings: Settings) -> None:
    client, h = _client(db_engine, settings)
    with client:
        bad = client.post("/api/v1/service/rules", headers=h, json={
            "name": "x", "match_type": "regex", "patterns": ["订单[0-9"], "reply": "r"})
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_regex"
        assert bad.json()["error"]["details"] == {"pattern": 0, "position": 2}
        unsafe = client.post("/api/v1/service/rules", headers=h, json={
            "name": "x", "match_type": "regex", "patterns": ["(a+)+b"], "reply": "r"})
        assert unsafe.json()["error"]["code"] == "unsafe_regex"
        assert client.post("/api/v1/service/rules", headers=h, json={
            "name": "x", "match_type": "sometimes", "patterns": ["a"], "reply": "r"}).json()["error"]["code"] == \
            "invalid_match_type"


def test_faq_crud_and_ask(db_engine: Engine, settings: Settings) -> None:
    client, h = _client(db_engine, settings)
    with client:
        faq = client.post("/api/v1/service/faqs", headers=h, json={
            "question": "怎么开发票？", "answer": "订单页申请", "alternatives": ["可以开票吗"], "keywords": ["发票"]})
        assert faq.status_code == 201, faq.text
        client.post("/api/v1/service/faqs", headers=h, json={"question": "多久发货？", "answer": "48小时"})
        asked = client.post("/api/v1/service/faqs/ask", headers=h, json={"text": "能开发票吗"}).json()
        assert asked["answered"] is True and asked["hits"][0]["faq_id"] == faq.json()["id"]
        assert "发票" in asked["words"]
        fid = faq.json()["id"]
        assert client.patch(f"/api/v1/service/faqs/{fid}", headers=h, json={"enabled": False}).json()["enabled"] is False
        assert client.post("/api/v1/service/faqs/ask", headers=h, json={"text": "能开发票吗"}).json()["answered"] is False
        assert client.get(f"/api/v1/service/faqs/{fid}", headers=h).json()["question"] == "怎么开发票？"
        assert len(client.get("/api/v1/service/faqs", headers=h).json()) == 2
        assert client.delete(f"/api/v1/service/faqs/{fid}", headers=h).status_code == 204
        assert client.get(f"/api/v1/service/faqs/{fid}", headers=h).json()["error"]["code"] == "faq_not_found"


def test_staff_settings_sla_report_and_unknown_staff(db_engine: Engine, settings: Settings) -> None:
    client, h = _client(db_engine, settings)
    with client:
        put = client.put("/api/v1/service/staff/wang", headers=h, json={
            "sla_minutes": 15, "working_hours": {"mon": [["09:00", "18:00"]]}, "supervisor": "li"})
        assert put.status_code == 200, put.text
        assert (put.json()["sla_minutes"], put.json()["working_hours"]) == (15, {"mon": [["09:00", "18:00"]]})
        unknown = client.put("/api/v1/service/staff/nobody", headers=h, json={"sla_minutes": 10})
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_staff")
        bad_sup = client.put("/api/v1/service/staff/wang", headers=h, json={"supervisor": "ghost"})
        assert bad_sup.json()["error"]["code"] == "unknown_staff"
        hours = client.put("/api/v1/service/staff/wang", headers=h, json={"working_hours": {"mon": [["18:00", "09:00"]]}})
        assert (hours.status_code, hours.json()["error"]["code"]) == (422, "invalid_working_hours")
        assert [r["sla_minutes"] for r in client.get("/api/v1/service/staff", headers=h).json()] == [15]
        report = client.get("/api/v1/service/sla", headers=h, params={"day": "2026-01-05"}).json()
        assert report == {"day": "2026-01-05", "timezone": "Asia/Shanghai", "rows": []}
        assert client.get("/api/v1/service/conversations", headers=h, params={"state": "odd"}).json()["error"][
            "code"] == "invalid_state"


def test_synonyms_reach_the_faq(db_engine: Engine, settings: Settings) -> None:
    client, h = _client(db_engine, settings)
    with client:
        client.post("/api/v1/service/faqs", headers=h, json={"question": "退款多久到账？", "answer": "1-3天"})
        assert client.post("/api/v1/service/faqs/ask", headers=h, json={"text": "返款"}).json()["hits"] == []
        made = client.post("/api/v1/service/synonyms", headers=h, json={"words": ["退款", "返款", "退款"]})
        assert made.status_code == 201 and made.json()["words"] == ["退款", "返款"]
        asked = client.post("/api/v1/service/faqs/ask", headers=h, json={"text": "返款"}).json()
        assert asked["words"] == ["返款", "退款"] and asked["hits"][0]["question"] == "退款多久到账？"
        assert [g["words"] for g in client.get("/api/v1/service/synonyms", headers=h).json()] == [["退款", "返款"]]
        bad = client.post("/api/v1/service/synonyms", headers=h, json={"words": ["退款", "退款"]})
        assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_synonyms")
        assert client.delete(f"/api/v1/service/synonyms/{made.json()['id']}", headers=h).status_code == 204
        gone = client.delete(f"/api/v1/service/synonyms/{made.json()['id']}", headers=h)
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "synonyms_not_found")
