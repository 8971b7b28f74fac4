"""HTTP: auto-reply rules, the FAQ, staff SLA settings, "what would answer this text", the SLA report."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_scope
from siyu.domains.service import service, sla
from siyu.domains.service.schemas import (
    AskIn,
    AskOut,
    ConversationOut,
    DecisionOut,
    FaqHitOut,
    FaqIn,
    FaqOut,
    FaqPatch,
    RuleIn,
    RuleOut,
    RulePatch,
    SlaReportOut,
    SlaRowOut,
    StaffSettingsIn,
    StaffSettingsOut,
    SynonymsIn,
    SynonymsOut,
    TryIn,
)
from siyu.kit.time import local_day, utcnow

router = APIRouter(prefix="/service", tags=["service"])
admin = require_scope("admin")
SESSION = Depends(get_session, scope="function")


@router.get("/rules", response_model=list[RuleOut])
def list_rules(session: Session = SESSION, _: Principal = Depends(admin)) -> list[RuleOut]:
    """List auto-reply rules, highest priority first."""
    return [RuleOut.model_validate(r) for r in service.list_rules(session)]


@router.post("/rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, session: Session = SESSION, principal: Principal = Depends(admin)) -> RuleOut:
    """Create an auto-reply rule (invalid or unsafe regexes are refused with their position)."""
    data = body.model_dump()
    rule = service.create_rule(session, **data, actor=principal.actor)
    return RuleOut.model_validate(rule)


@router.get("/rules/{rule_id}", response_model=RuleOut)
def get_rule(rule_id: int, session: Session = SESSION, _: Principal = Depends(admin)) -> RuleOut:
    """Return one rule."""
    return RuleOut.model_validate(service.get_rule(session, rule_id))


@router.patch("/rules/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: int, body: RulePatch, session: Session = SESSION,
                principal: Principal = Depends(admin)) -> RuleOut:
    """Change some fields of a rule (checked again as a whole)."""
    changes = body.model_dump(exclude_unset=True)
    return RuleOut.model_validate(service.update_rule(session, rule_id, changes, actor=principal.actor))


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: int, session: Session = SESSION, principal: Principal = Depends(admin)) -> None:
    """Delete a rule."""
    service.delete_rule(session, rule_id, actor=principal.actor)


@router.post("/test", response_model=DecisionOut)
def try_text(body: TryIn, request: Request, session: Session = SESSION, _: Principal = Depends(admin)) -> DecisionOut:
    """Return what would answer a text now (menu option, rule, FAQ or hand-off) and why; nothing is sent."""
    d = service.try_text(session, request.app.state.settings.data_dir, body.text, body.menu_rule_id)
    return DecisionOut(kind=d.kind, reply=d.reply, reason=d.reason, rule_id=d.rule_id, faq_id=d.faq_id,
                       confidence=d.confidence, candidates=d.candidates)


@router.get("/faqs", response_model=list[FaqOut])
def list_faqs(session: Session = SESSION, _: Principal = Depends(admin)) -> list[FaqOut]:
    """List FAQ entries."""
    return [FaqOut.model_validate(f) for f in service.list_faqs(session)]


@router.post("/faqs", response_model=FaqOut, status_code=201)
def create_faq(body: FaqIn, session: Session = SESSION, principal: Principal = Depends(admin)) -> FaqOut:
    """Create an FAQ entry."""
    return FaqOut.model_validate(service.create_faq(session, **body.model_dump(), actor=principal.actor))


@router.post("/faqs/ask", response_model=AskOut)
def ask(body: AskIn, request: Request, session: Session = SESSION, _: Principal = Depends(admin)) -> AskOut:
    """Rank the FAQ for a text with each hit's BM25 score and confidence."""
    found = service.ask(session, request.app.state.settings.data_dir, body.text, body.limit)
    return AskOut(threshold=found.threshold, answered=found.answered, words=found.words,
                  hits=[FaqHitOut(faq_id=h.faq.id, question=h.faq.question, answer=h.faq.answer, phrasing=h.phrasing,
                                  score=h.score, confidence=h.confidence,
                                  coverage=h.coverage) for h in found.hits])


@router.get("/faqs/{faq_id}", response_model=FaqOut)
def get_faq(faq_id: int, session: Session = SESSION, _: Principal = Depends(admin)) -> FaqOut:
    """Return one FAQ entry."""
    return FaqOut.model_validate(service.get_faq(session, faq_id))


@router.patch("/faqs/{faq_id}", response_model=FaqOut)
def update_faq(faq_id: int, body: FaqPatch, session: Session = SESSION,
               principal: Principal = Depends(admin)) -> FaqOut:
    """Change some fields of an FAQ entry."""
    changes = body.model_dump(exclude_unset=True)
    return FaqOut.model_validate(service.update_faq(session, faq_id, changes, actor=principal.actor))


@router.delete("/faqs/{faq_id}", status_code=204)
def delete_faq(faq_id: int, session: Session = SESSION, principal: Principal = Depends(admin)) -> None:
    """Delete an FAQ entry."""
    service.delete_faq(session, faq_id, actor=principal.actor)


@router.get("/synonyms", response_model=list[SynonymsOut])
def list_synonyms(session: Session = SESSION, _: Principal = Depends(admin)) -> list[SynonymsOut]:
    """List the FAQ's synonym groups."""
    return [SynonymsOut.model_validate(g) for g in service.list_synonyms(session)]


@router.post("/synonyms", response_model=SynonymsOut, status_code=201)
def add_synonyms(body: SynonymsIn, session: Session = SESSION, principal: Principal = Depends(admin)) -> SynonymsOut:
    """Add a group of words the FAQ treats as one."""
    return SynonymsOut.model_validate(service.add_synonyms(session, body.words, actor=principal.actor))


@router.delete("/synonyms/{group_id}", status_code=204)
def delete_synonyms(group_id: int, session: Session = SESSION, principal: Principal = Depends(admin)) -> None:
    """Delete a synonym group."""
    service.delete_synonyms(session, group_id, actor=principal.actor)


@router.get("/staff", response_model=list[StaffSettingsOut])
def list_staff_settings(session: Session = SESSION, _: Principal = Depends(admin)) -> list[StaffSettingsOut]:
    """List staff members' SLA settings (those without a row have 30 minutes, always open, no supervisor)."""
    return [StaffSettingsOut.model_validate(r) for r in service.list_staff_settings(session)]


@router.put("/staff/{userid}", response_model=StaffSettingsOut)
def set_staff_settings(userid: str, body: StaffSettingsIn, session: Session = SESSION,
                       principal: Principal = Depends(admin)) -> StaffSettingsOut:
    """Set a staff member's SLA minutes, working hours or supervisor."""
    row = service.set_staff_settings(session, userid, **body.model_dump(), actor=principal.actor)
    return StaffSettingsOut.model_validate(row)


@router.get("/sla", response_model=SlaReportOut)
def sla_report(request: Request, day: date | None = None, session: Session = SESSION,
               _: Principal = Depends(admin)) -> SlaReportOut:
    """Return the first-response SLA report of one brand day (default: today) per staff member."""
    tz = request.app.state.settings.tz
    day = day or local_day(utcnow(), tz)
    rows = sla.daily_report(session, day, tz)
    return SlaReportOut(day=day.isoformat(), timezone=str(tz), rows=[SlaRowOut.model_validate(r) for r in rows])


@router.get("/conversations", response_model=list[ConversationOut])
def conversations(state: str | None = None, staff: str | None = None, limit: int = Query(50, ge=1, le=200),
                  session: Session = SESSION, _: Principal = Depends(admin)) -> list[ConversationOut]:
    """List conversations by last activity: bot_answered, handed_off or staff_replied."""
    rows = service.list_conversations(session, state=state, staff_userid=staff, limit=limit)
    return [ConversationOut.model_validate(c) for c in rows]
