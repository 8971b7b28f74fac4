"""The policy preview says what the dispatcher then does: same recipients, same ``now``, same verdicts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from factories import make_customer
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.customers import Consent
from siyu.domains.identity import Identity
from siyu.domains.outbox import NewMessage, OutboxMessage, enqueue, preview_policy
from siyu.domains.outbox.service import add_opt_out, save_policy
from siyu.kit.crypto import PiiVault

from .conftest import NOON, TZ, CountingAdapter, dispatcher

NAMES = ("ok1", "dnc", "dnc_sms", "unsub", "unsub_sms", "withdrawn", "regranted", "all_withdrawn", "day", "week",
         "mass", "berlin", "ok2", "ok3", "ok4")
POLICY = {"caps": [{"period": "day", "limit": 1, "channel": "wecom"}, {"period": "week", "limit": 2},
                   {"scope": "global", "period": "day", "limit": 6, "channel": "wecom"}],
          "wecom_mass_limit": "day_1"}


def _consent(s, customer_id: int, channel: str, granted: bool, minutes: int) -> None:  # type: ignore[no-untyped-def]
    ident = s.scalar(select(Identity).where(Identity.customer_id == customer_id))
    s.add(Consent(identity_id=ident.id, channel=channel, purpose="marketing", granted=granted, source="test",
                  evidence={}, recorded_at=NOON - timedelta(days=1, minutes=-minutes)))


def _sent(s, key: str, customer_id: int, channel: str, at, mass: int | None = None) -> None:  # type: ignore[no-untyped-def]
    s.add(OutboxMessage(idempotency_key=key, kind="x", channel=channel, category="marketing", customer_id=customer_id,
                        payload={}, status="sent", send_after=at, created_at=at, sent_at=at, mass_message_id=mass))


def _matrix(engine: Engine, settings: Settings) -> dict[str, int]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(engine) as s:
        ids = {n: make_customer(s, vault, identities={"unionid": f"u-{n}"},
                                attributes={"timezone": "Europe/Berlin"} if n == "berlin" else {}).id for n in NAMES}
        add_opt_out(s, customer_id=ids["dnc"], channel="*", scope="all", source="test")
        add_opt_out(s, customer_id=ids["dnc_sms"], channel="sms", scope="all", source="test")  # wecom still goes
        add_opt_out(s, customer_id=ids["unsub"], channel="wecom", scope="marketing", source="test")
        add_opt_out(s, customer_id=ids["unsub_sms"], channel="sms", scope="marketing", source="test")
        _consent(s, ids["withdrawn"], "wecom", False, 0)
        _consent(s, ids["regranted"], "wecom", False, 0)
        _consent(s, ids["regranted"], "wecom", True, 5)  # the latest fact wins
        _consent(s, ids["all_withdrawn"], "all", False, 0)
        _sent(s, "d", ids["day"], "wecom", NOON - timedelta(hours=2))  # today's wecom cap of 1 reached
        _sent(s, "w1", ids["week"], "sms", NOON - timedelta(days=1))  # Monday and Tuesday of this ISO week
        _sent(s, "w2", ids["week"], "email", NOON - timedelta(hours=3))
        _sent(s, "m", ids["mass"], "wecom_group", NOON - timedelta(hours=1), mass=7)  # another mass message today
        save_policy(s, POLICY, actor="t")
    return ids


def test_preview_counts_equal_what_the_dispatcher_does(db_engine: Engine, settings: Settings) -> None:
    ids = _matrix(db_engine, settings)
    customers = sorted(ids.values())
    with unit_of_work(db_engine, write=False) as s:
        seen = preview_policy(s, customers, channel="wecom", category="marketing", now=NOON, tz=TZ,
                              mass_message_id=99)
    with unit_of_work(db_engine) as s:
        enqueue(s, [NewMessage(f"mass:99:{c}", "mass_message", "wecom", {"text": "hi"}, customer_id=c,
                               category="marketing", send_after=NOON, mass_message_id=99) for c in customers], now=NOON)
    adapter = CountingAdapter("wecom")
    dispatcher(db_engine, adapter, batch=4).drain(NOON)  # several batches: global counts carry across them
    with unit_of_work(db_engine, write=False) as s:
        rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.mass_message_id == 99)))
    done = {r.customer_id: ("send" if r.status == "sent" else r.reason) for r in rows}
    name = {c: n for n, c in ids.items()}
    assert {name[c]: v for c, v in done.items()} == {name[c]: ("send" if d.action == "send" else d.reason)
                                                     for c, d in seen.verdicts.items()}
    assert seen.counts() == Counter(done.values()) == Counter(
        {"send": 5, "do_not_contact": 1, "unsubscribed": 1, "consent_withdrawn": 2, "cap_customer_day": 1,
         "cap_customer_week": 1, "wecom_mass_limit": 1, "quiet_hours": 1, "cap_global_day": 2})
    sent = {name[c] for c in seen.sendable()}
    assert sent == {"ok1", "dnc_sms", "unsub_sms", "regranted", "ok2"}  # the global cap (6, 1 used) stops ok3, ok4
    assert {name[c]: v for c, v in done.items() if v == "cap_global_day"} == {"ok3": "cap_global_day",
                                                                              "ok4": "cap_global_day"}
    berlin = next(r for r in rows if r.customer_id == ids["berlin"])
    assert seen.held() == {ids["berlin"]: berlin.send_after}  # 05:00 in Berlin: held until 08:00 there
    assert berlin.send_after.astimezone(TZ).hour == 15
    assert set(seen.excluded()) == set(customers) - set(seen.sendable()) - {ids["berlin"]}


def test_transactional_preview_only_honours_do_not_contact(db_engine: Engine, settings: Settings) -> None:
    ids = _matrix(db_engine, settings)
    with unit_of_work(db_engine, write=False) as s:
        seen = preview_policy(s, ids.values(), channel="wecom", category="transactional", now=NOON, tz=TZ)
    assert seen.counts() == Counter({"send": len(NAMES) - 1, "do_not_contact": 1})
