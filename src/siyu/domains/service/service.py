"""Service rules: auto-reply rules and FAQ CRUD, staff SLA settings, and what would answer a text and why.

Order of answering an inbound text: the option of the menu the customer was last shown ("1"), then
the keyword rule with the highest priority, then the FAQ whose best phrasing reaches the confidence
threshold; otherwise the message is handed off to the staff member it reached (or the customer's
follower). Services flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains import staff as staff_domain
from siyu.domains.access import audit
from siyu.domains.service import faq as faq_index
from siyu.domains.service import hours as work_hours
from siyu.domains.service import matching
from siyu.domains.service import repository as repo
from siyu.domains.service.models import FaqEntry, ServiceRule, StaffServiceSettings, SynonymGroup
from siyu.errors import NotFound, ValidationFailed
from siyu.kit.time import utcnow

DEFAULT_SLA_MINUTES = 30
STATES = ("new", "bot_answered", "handed_off", "staff_replied")
MAX_REPLY = 2000


@dataclass(frozen=True, slots=True)
class Decision:
    """What answers a text: a menu option, a rule, an FAQ, or a hand-off, with the reason."""

    kind: str  # menu_option | rule | faq | handoff
    reply: str | None
    reason: str
    rule_id: int | None = None
    faq_id: int | None = None
    confidence: float | None = None
    menu_rule_id: int | None = None  # set when the reply shows a menu
    candidates: list[dict[str, Any]] = field(default_factory=list)


def rule_spec(rule: ServiceRule) -> matching.RuleSpec:
    """Return the matcher's view of a stored rule."""
    return matching.RuleSpec(id=rule.id, name=rule.name, match_type=rule.match_type, patterns=tuple(rule.patterns),
                             reply=rule.reply, priority=rule.priority, threshold=rule.threshold,
                             options=tuple(rule.options or ()))


def faq_spec(entry: FaqEntry) -> faq_index.FaqSpec:
    """Return the index's view of a stored FAQ."""
    return faq_index.FaqSpec(id=entry.id, question=entry.question, answer=entry.answer,
                             alternatives=tuple(entry.alternatives or ()), keywords=tuple(entry.keywords or ()))


@dataclass(slots=True)
class Responder:
    """The enabled rules and FAQs compiled once, to answer many texts."""

    matcher: matching.Matcher
    index: faq_index.FaqIndex
    threshold: float
    by_id: dict[int, matching.RuleSpec]

    def decide(self, text: str, menu_rule_id: int | None = None) -> Decision:
        """Return what answers ``text`` (given the menu the customer was last shown) and why."""
        menu = self.by_id.get(menu_rule_id) if menu_rule_id else None
        option = matching.option_for(menu, text) if menu else None
        if menu is not None and option is not None:
            return Decision("menu_option", option["reply"], f"option {option['key']} of menu rule {menu.id} "
                            f"({menu.name})", rule_id=menu.id, menu_rule_id=menu.id)
        hits = self.matcher.candidates(text)
        candidates = [{"rule_id": h.rule.id, "name": h.rule.name, "priority": h.rule.priority, "reason": h.reason}
                      for h in hits]
        if hits:
            best = hits[0]
            return Decision("rule", matching.menu_text(best.rule), f"rule {best.rule.id} ({best.rule.name}): "
                            f"{best.reason}", rule_id=best.rule.id, candidates=candidates,
                            menu_rule_id=best.rule.id if best.rule.options else None)
        ranked = self.index.rank(text)
        candidates = [{"faq_id": h.faq.id, "question": h.faq.question, "confidence": h.confidence,
                       "coverage": h.coverage, "phrasing": h.phrasing} for h in ranked]
        if ranked and ranked[0].answers(self.threshold):
            top = ranked[0]
            return Decision("faq", top.faq.answer, f"FAQ {top.faq.id}: {top.phrasing!r} with confidence "
                            f"{top.confidence:.2f} (threshold {self.threshold:.2f}), words {list(top.words)}",
                            faq_id=top.faq.id, confidence=top.confidence, candidates=candidates)
        why = "no rule matches and no FAQ shares a word with the text"
        if ranked and ranked[0].confidence < self.threshold:
            why = f"best FAQ {ranked[0].faq.id} has confidence {ranked[0].confidence:.2f} below {self.threshold:.2f}"
        elif ranked:
            why = (f"best FAQ {ranked[0].faq.id} covers {ranked[0].coverage:.0%} of the message's words "
                   f"(at least {faq_index.MIN_COVERAGE:.0%} needed)")
        return Decision("handoff", None, why, confidence=ranked[0].confidence if ranked else None,
                        candidates=candidates)


def responder(session: Session, data_dir: Path, threshold: float | None = None) -> Responder:
    """Compile the enabled rules and FAQs."""
    specs = [rule_spec(r) for r in repo.rules(session, enabled_only=True)]
    index = faq_index.FaqIndex([faq_spec(f) for f in repo.faqs(session, enabled_only=True)],
                               faq_index.tokenizer(data_dir), [g.words for g in repo.synonym_groups(session)])
    return Responder(matching.Matcher(specs), index,
                     faq_index.DEFAULT_THRESHOLD if threshold is None else threshold, {s.id: s for s in specs})


def _reply(text: str, what: str = "reply") -> str:
    cleaned = (text or "").strip()
    if not cleaned or len(cleaned) > MAX_REPLY:
        raise ValidationFailed(f"{what} must be 1-{MAX_REPLY} characters", code=f"invalid_{what}")
    return cleaned


def _name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > 80:
        raise ValidationFailed("name must be 1-80 characters", code="invalid_name")
    return cleaned


def create_rule(session: Session, *, name: str, match_type: str, patterns: Sequence[str], reply: str,
                priority: int = 0, enabled: bool = True, threshold: int | None = None,
                options: Sequence[dict[str, Any]] = (), actor: str) -> ServiceRule:
    """Create a keyword rule after checking it (regexes compile and cannot backtrack catastrophically)."""
    cleaned, menu = matching.check_rule(match_type, patterns, threshold, options)
    now = utcnow()
    rule = repo.add(session, ServiceRule(name=_name(name), match_type=match_type, patterns=cleaned,
                                         threshold=threshold, reply=_reply(reply), options=menu, priority=priority,
                                         enabled=enabled, created_at=now, updated_at=now))
    audit(session, actor, "service_rule.create", "service_rule", rule.id, {"name": rule.name})
    return rule


def get_rule(session: Session, rule_id: int) -> ServiceRule:
    """Return a rule or raise ``rule_not_found``."""
    rule = session.get(ServiceRule, rule_id)
    if rule is None:
        raise NotFound(f"auto-reply rule {rule_id} does not exist", code="rule_not_found")
    return rule


def update_rule(session: Session, rule_id: int, changes: dict[str, Any], *, actor: str) -> ServiceRule:
    """Change a rule's fields (re-checked together) and return it."""
    rule = get_rule(session, rule_id)
    merged = {"name": rule.name, "match_type": rule.match_type, "patterns": rule.patterns, "reply": rule.reply,
              "priority": rule.priority, "enabled": rule.enabled, "threshold": rule.threshold,
              "options": rule.options, **{k: v for k, v in changes.items() if v is not None or k == "threshold"}}
    cleaned, menu = matching.check_rule(merged["match_type"], merged["patterns"], merged["threshold"],
                                        merged["options"])
    rule.name, rule.match_type, rule.patterns = _name(merged["name"]), merged["match_type"], cleaned
    rule.reply, rule.priority, rule.enabled = _reply(merged["reply"]), int(merged["priority"]), bool(merged["enabled"])
    rule.threshold, rule.options, rule.updated_at = merged["threshold"], menu, utcnow()
    session.flush()
    audit(session, actor, "service_rule.update", "service_rule", rule.id, {"fields": sorted(changes)})
    return rule


def delete_rule(session: Session, rule_id: int, *, actor: str) -> None:
    """Delete a rule."""
    rule = get_rule(session, rule_id)
    repo.delete(session, rule)
    audit(session, actor, "service_rule.delete", "service_rule", rule_id, {"name": rule.name})


def list_rules(session: Session) -> list[ServiceRule]:
    """Return every rule, highest priority first."""
    return repo.rules(session)


def _phrases(values: Sequence[str], what: str) -> list[str]:
    cleaned = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if len(cleaned) > 50 or any(len(v) > 200 for v in cleaned):
        raise ValidationFailed(f"{what}: at most 50, each at most 200 characters", code=f"invalid_{what}")
    return cleaned


def create_faq(session: Session, *, question: str, answer: str, alternatives: Sequence[str] = (),
               keywords: Sequence[str] = (), enabled: bool = True, actor: str) -> FaqEntry:
    """Create an FAQ entry."""
    now = utcnow()
    entry = repo.add(session, FaqEntry(question=_reply(question, "question"), answer=_reply(answer, "answer"),
                                       alternatives=_phrases(alternatives, "alternatives"),
                                       keywords=_phrases(keywords, "keywords"), enabled=enabled,
                                       created_at=now, updated_at=now))
    audit(session, actor, "service_faq.create", "service_faq", entry.id)
    return entry


def get_faq(session: Session, faq_id: int) -> FaqEntry:
    """Return an FAQ entry or raise ``faq_not_found``."""
    entry = session.get(FaqEntry, faq_id)
    if entry is None:
        raise NotFound(f"FAQ {faq_id} does not exist", code="faq_not_found")
    return entry


def update_faq(session: Session, faq_id: int, changes: dict[str, Any], *, actor: str) -> FaqEntry:
    """Change an FAQ entry's fields and return it."""
    entry = get_faq(session, faq_id)
    checks = {"question": lambda v: _reply(v, "question"), "answer": lambda v: _reply(v, "answer"),
              "alternatives": lambda v: _phrases(v, "alternatives"), "keywords": lambda v: _phrases(v, "keywords"),
              "enabled": bool}
    for key, value in changes.items():
        if value is not None and key in checks:
            setattr(entry, key, checks[key](value))
    entry.updated_at = utcnow()
    session.flush()
    audit(session, actor, "service_faq.update", "service_faq", entry.id, {"fields": sorted(changes)})
    return entry


def delete_faq(session: Session, faq_id: int, *, actor: str) -> None:
    """Delete an FAQ entry."""
    repo.delete(session, get_faq(session, faq_id))
    audit(session, actor, "service_faq.delete", "service_faq", faq_id)


def list_faqs(session: Session) -> list[FaqEntry]:
    """Return every FAQ entry."""
    return repo.faqs(session)


def staff_id_of(session: Session, userid: str) -> int:
    """Return the id of staff member ``userid`` or raise ``unknown_staff``."""
    found = staff_domain.staff_ids_by_userid(session, [userid])
    if userid not in found:
        raise NotFound(f"no staff member has userid {userid!r}", code="unknown_staff", userid=userid)
    return found[userid]


def set_staff_settings(session: Session, userid: str, *, sla_minutes: int | None = None,
                       working_hours: dict[str, Any] | None = None, supervisor: str | None = None,
                       actor: str) -> StaffServiceSettings:
    """Set a staff member's SLA minutes, working hours (channel codes' format) or supervisor."""
    staff_id = staff_id_of(session, userid)
    row = repo.staff_settings(session, [staff_id]).get(staff_id) or repo.add(
        session, StaffServiceSettings(staff_id=staff_id, sla_minutes=DEFAULT_SLA_MINUTES, working_hours={},
                                      updated_at=utcnow()))
    if sla_minutes is not None:
        if not 1 <= sla_minutes <= 7 * 24 * 60:
            raise ValidationFailed("sla_minutes must be between 1 and 10080", code="invalid_sla_minutes")
        row.sla_minutes = sla_minutes
    if working_hours is not None:
        checked = work_hours.check_working_hours(working_hours)
        if checked and not any(checked.values()):
            raise ValidationFailed("working_hours must open at least once a week", code="invalid_working_hours")
        row.working_hours = checked
    if supervisor is not None:
        row.supervisor_id = staff_id_of(session, supervisor) if supervisor else None
        if row.supervisor_id == staff_id:
            raise ValidationFailed("a staff member cannot supervise themselves", code="invalid_supervisor")
    row.updated_at = utcnow()
    session.flush()
    audit(session, actor, "service_staff.update", "staff", staff_id,
          {"sla_minutes": row.sla_minutes, "supervisor_id": row.supervisor_id})
    return row


def list_staff_settings(session: Session) -> list[StaffServiceSettings]:
    """Return every staff member's service settings."""
    return repo.all_staff_settings(session)


@dataclass(frozen=True, slots=True)
class Asked:
    """The FAQ ranking of a text: the words searched, the hits and whether the best one answers."""

    threshold: float
    words: list[str]
    hits: list[faq_index.FaqHit]

    @property
    def answered(self) -> bool:
        """Return whether the best hit reaches the threshold."""
        return bool(self.hits) and self.hits[0].answers(self.threshold)


def ask(session: Session, data_dir: Path, text: str, limit: int = 3) -> Asked:
    """Rank the enabled FAQs for ``text``."""
    found = responder(session, data_dir)
    words = found.index.expand(faq_index.tokens(found.index.tk, text))
    return Asked(found.threshold, words, found.index.rank(text, limit))


def try_text(session: Session, data_dir: Path, text: str, menu_rule_id: int | None = None) -> Decision:
    """Return what would answer ``text`` now and why (nothing is sent)."""
    if menu_rule_id is not None:
        get_rule(session, menu_rule_id)
    return responder(session, data_dir).decide(text, menu_rule_id)


def list_conversations(session: Session, *, state: str | None = None, staff_userid: str | None = None,
                       limit: int = 50) -> list[Any]:
    """Return the most recently active conversations, optionally of one state or staff member."""
    if state is not None and state not in STATES:
        raise ValidationFailed(f"state must be one of {', '.join(STATES)}", code="invalid_state")
    staff_id = staff_id_of(session, staff_userid) if staff_userid else None
    return repo.conversations(session, state=state, staff_id=staff_id, limit=limit)


def list_synonyms(session: Session) -> list[SynonymGroup]:
    """Return the FAQ's synonym groups."""
    return repo.synonym_groups(session)


def add_synonyms(session: Session, words: Sequence[str], *, actor: str) -> SynonymGroup:
    """Add a group of 2-20 words the FAQ treats as one, or raise ``invalid_synonyms``."""
    cleaned = list(dict.fromkeys(w.strip() for w in words if isinstance(w, str) and w.strip()))
    if not 2 <= len(cleaned) <= 20 or any(len(w) > 20 or " " in w for w in cleaned):
        raise ValidationFailed("a synonym group has 2-20 distinct words of at most 20 characters, without spaces",
                               code="invalid_synonyms")
    group = repo.add(session, SynonymGroup(words=cleaned, created_at=utcnow()))
    audit(session, actor, "service_synonyms.create", "service_synonyms", group.id, {"words": cleaned})
    return group


def delete_synonyms(session: Session, group_id: int, *, actor: str) -> None:
    """Delete a synonym group or raise ``synonyms_not_found``."""
    group = session.get(SynonymGroup, group_id)
    if group is None:
        raise NotFound(f"synonym group {group_id} does not exist", code="synonyms_not_found")
    repo.delete(session, group)
    audit(session, actor, "service_synonyms.delete", "service_synonyms", group_id)
