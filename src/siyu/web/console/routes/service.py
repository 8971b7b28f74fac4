"""Service pages: auto-reply rules and the FAQ (list, add, edit, delete, a try-it box) and the SLA report.

Each form posts to its own action; a refused one re-renders the page with the error beside its field
(an invalid regex names its position). The try-it box posts the text and shows what would answer it
and why, exactly as the worker would decide (nothing is sent).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.service import daily_report
from siyu.domains.service import service as svc
from siyu.errors import SiyuError, ValidationFailed
from siyu.kit.time import local_day, utcnow
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import error_text, form_values, page, redirect, translator
from siyu.web.deps import get_session

router = APIRouter()
SESSION = Depends(get_session, scope="function")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _options(text: str) -> list[dict[str, str]]:
    """Parse menu options written one per line as ``1 = 物流 = 请看订单页``."""
    found = []
    for i, line in enumerate(_lines(text)):
        parts = [p.strip() for p in line.split("=", 2)]
        if len(parts) != 3:
            raise ValidationFailed(f"menu option {i} must read KEY = LABEL = REPLY", code="invalid_menu", option=i)
        found.append(dict(zip(("key", "label", "reply"), parts)))
    return found


def _rule_values(rule: Any) -> dict[str, str]:
    return {"id": str(rule.id), "name": rule.name, "match_type": rule.match_type, "patterns": "\n".join(rule.patterns),
            "reply": rule.reply, "priority": str(rule.priority), "threshold": str(rule.threshold or ""),
            "options": "\n".join(f"{o['key']} = {o['label']} = {o['reply']}" for o in rule.options or []),
            "enabled": "1" if rule.enabled else ""}


def _rules_page(request: Request, session: Session, *, errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None, decision: Any = None, status: int = 200) -> Response:
    edit = request.query_params.get("edit", "")
    if values is None and edit.isdigit():
        values = _rule_values(svc.get_rule(session, int(edit)))
    return page(request, "service/rules.html", status=status, rules=svc.list_rules(session), errors=errors or {},
                values=values or {"enabled": "1", "match_type": "contains"}, decision=decision,
                done=request.query_params.get("done"))


@router.get("/service/rules")
def rules_page(request: Request, _user: ConsoleUser = Depends(require("service.view")),
               session: Session = SESSION) -> Response:
    """List auto-reply rules with the form to add or edit one and the try-it box."""
    return _rules_page(request, session)


@router.post("/service/rules")
async def save_rule(request: Request, user: ConsoleUser = Depends(require("service.edit")),
                    session: Session = SESSION) -> Response:
    """Create a rule, or change the one named by ``id``."""
    values = await form_values(request)
    try:
        threshold = values.get("threshold", "").strip()
        fields = {"name": values.get("name", ""), "match_type": values.get("match_type", ""),
                  "patterns": _lines(values.get("patterns", "")), "reply": values.get("reply", ""),
                  "priority": int(values.get("priority") or 0), "enabled": values.get("enabled") == "1",
                  "threshold": int(threshold) if threshold.isdigit() else None,
                  "options": _options(values.get("options", ""))}
        if values.get("id", "").isdigit():
            svc.update_rule(session, int(values["id"]), fields, actor=user.principal.actor)
        else:
            svc.create_rule(session, **fields, actor=user.principal.actor)
    except (SiyuError, ValueError) as exc:
        session.rollback()
        err = exc if isinstance(exc, SiyuError) else ValidationFailed("priority must be a whole number",
                                                                      code="invalid_priority")
        field = {"invalid_regex": "patterns", "unsafe_regex": "patterns", "invalid_patterns": "patterns",
                 "invalid_menu": "options", "invalid_threshold": "threshold", "invalid_reply": "reply",
                 "invalid_match_type": "match_type", "invalid_priority": "priority"}.get(err.code, "name")
        return _rules_page(request, session, errors={field: error_text(translator(request), err)}, values=values,
                           status=422)
    return redirect(request, "/service/rules?done=saved")


@router.post("/service/rules/{rule_id}/delete")
def delete_rule(request: Request, rule_id: int, user: ConsoleUser = Depends(require("service.edit")),
                session: Session = SESSION) -> Response:
    """Delete a rule."""
    svc.delete_rule(session, rule_id, actor=user.principal.actor)
    return redirect(request, "/service/rules?done=deleted")


@router.post("/service/try")
async def try_text(request: Request, _user: ConsoleUser = Depends(require("service.view")),
                   session: Session = SESSION) -> Response:
    """Show what would answer the text and why, on the page the box sits on."""
    form = await request.form()
    text, where = str(form.get("text", "")).strip(), str(form.get("page", "rules"))
    decision = svc.try_text(session, request.app.state.settings.data_dir, text) if text else None
    if where == "faq":
        return _faq_page(request, session, decision=decision, tried=text)
    return _rules_page(request, session, decision=decision, values={"tried": text, "enabled": "1"})


def _faq_page(request: Request, session: Session, *, errors: dict[str, str] | None = None,
              values: dict[str, str] | None = None, decision: Any = None, tried: str = "",
              status: int = 200) -> Response:
    edit = request.query_params.get("edit", "")
    if values is None and edit.isdigit():
        f = svc.get_faq(session, int(edit))
        values = {"id": str(f.id), "question": f.question, "answer": f.answer,
                  "alternatives": "\n".join(f.alternatives), "keywords": "\n".join(f.keywords)}
    return page(request, "service/faq.html", status=status, faqs=svc.list_faqs(session), errors=errors or {},
                values=values or {}, decision=decision, tried=tried, done=request.query_params.get("done"),
                synonyms=svc.list_synonyms(session))


@router.get("/service/faq")
def faq_page(request: Request, _user: ConsoleUser = Depends(require("service.view")),
             session: Session = SESSION) -> Response:
    """List FAQ entries with the form to add or edit one and the try-it box."""
    return _faq_page(request, session)


@router.post("/service/faq")
async def save_faq(request: Request, user: ConsoleUser = Depends(require("service.edit")),
                   session: Session = SESSION) -> Response:
    """Create an FAQ entry, or change the one named by ``id``."""
    values = await form_values(request)
    fields = {"question": values.get("question", ""), "answer": values.get("answer", ""),
              "alternatives": _lines(values.get("alternatives", "")), "keywords": _lines(values.get("keywords", ""))}
    try:
        if values.get("id", "").isdigit():
            svc.update_faq(session, int(values["id"]), fields, actor=user.principal.actor)
        else:
            svc.create_faq(session, **fields, actor=user.principal.actor)
    except SiyuError as exc:
        session.rollback()
        field = exc.code.removeprefix("invalid_") if exc.code.startswith("invalid_") else "question"
        return _faq_page(request, session, errors={field: error_text(translator(request), exc)}, values=values,
                         status=422)
    return redirect(request, "/service/faq?done=saved")


@router.post("/service/faq/{faq_id}/delete")
def delete_faq(request: Request, faq_id: int, user: ConsoleUser = Depends(require("service.edit")),
               session: Session = SESSION) -> Response:
    """Delete an FAQ entry."""
    svc.delete_faq(session, faq_id, actor=user.principal.actor)
    return redirect(request, "/service/faq?done=deleted")


@router.post("/service/synonyms")
async def add_synonyms(request: Request, user: ConsoleUser = Depends(require("service.edit")),
                       session: Session = SESSION) -> Response:
    """Add a synonym group (words separated by spaces, commas or slashes)."""
    raw = str((await request.form()).get("words", ""))
    words = [w for w in raw.replace("，", " ").replace(",", " ").replace("/", " ").split() if w]
    try:
        svc.add_synonyms(session, words, actor=user.principal.actor)
    except SiyuError as exc:
        session.rollback()
        return _faq_page(request, session, errors={"synonyms": error_text(translator(request), exc)},
                         values={"synonyms": raw}, status=422)
    return redirect(request, "/service/faq?done=saved")


@router.post("/service/synonyms/{group_id}/delete")
def delete_synonyms(request: Request, group_id: int, user: ConsoleUser = Depends(require("service.edit")),
                    session: Session = SESSION) -> Response:
    """Delete a synonym group."""
    svc.delete_synonyms(session, group_id, actor=user.principal.actor)
    return redirect(request, "/service/faq?done=deleted")


@router.get("/service/sla")
def sla_page(request: Request, _user: ConsoleUser = Depends(require("service.view")),
             session: Session = SESSION) -> Response:
    """Show the first-response SLA report of one brand day per staff member."""
    tz = request.app.state.settings.tz
    raw = request.query_params.get("day", "")
    try:
        day = date.fromisoformat(raw) if raw else local_day(utcnow(), tz)
        error = ""
    except ValueError:
        day, error = local_day(utcnow(), tz), translator(request)("service.sla.bad_day")
    return page(request, "service/sla.html", rows=daily_report(session, day, tz), day=day.isoformat(),
                error=error, timezone=str(tz))
