"""HTTP: journeys (/api/v1/journeys). Reading needs a reader; changing needs an editor (admin keys,
admin or operator users). Staff users may read a trace only of customers they follow."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_editor, require_reader
from siyu.domains.customers.service import visible_customer
from siyu.domains.journeys import service
from siyu.domains.journeys.schemas import (ConversionOut, CountList, CountOut, DefinitionIn, EnrolIn, EnrolOut,
                                           JourneyDetail, JourneyIn, JourneyList, JourneyOut, MigrateIn, MigrateOut,
                                           Rate, TemplateList, TemplateOut, TraceList, ValidOut, VersionList,
                                           VersionOut)
from siyu.domains.journeys.templates import TEMPLATES, template
from siyu.errors import ValidationFailed

router = APIRouter(prefix="/journeys", tags=["journeys"])
DB = Depends(get_session, scope="function")


def _detail(session: Session, ref: int | str) -> JourneyDetail:
    journey = service.get_journey(session, ref)
    return JourneyDetail(**JourneyOut.model_validate(journey).model_dump(),
                         definition=service.current_definition(session, journey),
                         active=service.active_enrolments(session, journey.id))


@router.get("", response_model=JourneyList)
def list_journeys(status: str | None = None, session: Session = DB,
                  _: Principal = Depends(require_reader)) -> JourneyList:
    """List journeys, optionally of one status (draft, active, paused)."""
    return JourneyList(items=[JourneyOut.model_validate(j) for j in service.list_journeys(session, status)])


@router.get("/templates", response_model=TemplateList)
def list_templates(_: Principal = Depends(require_reader)) -> TemplateList:
    """List the ready templates."""
    return TemplateList(items=[TemplateOut(name=n, description=t["description"], definition=template(n))
                               for n, t in TEMPLATES.items()])


@router.post("/validate", response_model=ValidOut)
def validate(body: DefinitionIn = Body(...), session: Session = DB,
             _: Principal = Depends(require_reader)) -> ValidOut:
    """Check a definition without saving it (422 invalid_journey lists every problem with its step)."""
    spec = service.validate(session, body.definition)
    return ValidOut(valid=True, steps=len(spec.steps), trigger=spec.trigger.type)


@router.post("", response_model=JourneyDetail, status_code=201)
def create_journey(body: JourneyIn = Body(...), session: Session = DB,
                   principal: Principal = Depends(require_editor)) -> JourneyDetail:
    """Create a draft journey from a definition or a template."""
    if (body.definition is None) == (body.template is None):
        raise ValidationFailed("send either definition or template", code="invalid_journey", field="definition")
    if body.template is not None and body.template not in TEMPLATES:
        raise ValidationFailed(f"no template {body.template!r}", code="unknown_template", field="template")
    definition = body.definition if body.definition is not None else template(body.template or "")
    journey = service.create_journey(session, name=body.name, description=body.description, definition=definition,
                                     actor=principal.actor)
    return _detail(session, journey.id)


@router.get("/customers/{customer_id}/trace", response_model=TraceList)
def trace(customer_id: int, journey: str | None = None, session: Session = DB,
          principal: Principal = Depends(require_reader)) -> TraceList:
    """Explain a customer's journeys: every step visited, when, what it decided and why."""
    visible_customer(session, principal, customer_id)
    return TraceList(items=service.trace(session, customer_id, journey=journey))


@router.get("/{ref}", response_model=JourneyDetail)
def show_journey(ref: str, session: Session = DB, _: Principal = Depends(require_reader)) -> JourneyDetail:
    """Show a journey (by id or name) with its current definition."""
    return _detail(session, ref)


@router.put("/{ref}/definition", response_model=VersionOut)
def edit_definition(ref: str, body: DefinitionIn = Body(...), session: Session = DB,
                    principal: Principal = Depends(require_editor)) -> VersionOut:
    """Replace the definition: in place while a draft, else as a new version."""
    return VersionOut.model_validate(service.update_definition(session, ref, body.definition, actor=principal.actor))


@router.post("/{ref}/publish", response_model=JourneyOut)
def publish(ref: str, session: Session = DB, principal: Principal = Depends(require_editor)) -> JourneyOut:
    """Start or resume a journey."""
    return JourneyOut.model_validate(service.publish(session, ref, actor=principal.actor))


@router.post("/{ref}/pause", response_model=JourneyOut)
def pause(ref: str, session: Session = DB, principal: Principal = Depends(require_editor)) -> JourneyOut:
    """Pause a journey: no enrolments, no steps, until published again."""
    return JourneyOut.model_validate(service.pause(session, ref, actor=principal.actor))


@router.get("/{ref}/versions", response_model=VersionList)
def versions(ref: str, session: Session = DB, _: Principal = Depends(require_reader)) -> VersionList:
    """List a journey's versions."""
    return VersionList(items=[VersionOut.model_validate(v) for v in service.versions(session, ref)])


@router.post("/{ref}/migrate", response_model=MigrateOut)
def migrate(ref: str, body: MigrateIn = Body(...), session: Session = DB,
            principal: Principal = Depends(require_editor)) -> MigrateOut:
    """Move an older version's running enrolments to the current version."""
    return MigrateOut(moved=service.migrate(session, ref, body.from_version, actor=principal.actor))


@router.post("/{ref}/enrol", response_model=EnrolOut)
def enrol(ref: str, body: EnrolIn = Body(...), session: Session = DB,
          principal: Principal = Depends(require_editor)) -> EnrolOut:
    """Enrol customers by hand (under the re-entry policy)."""
    return EnrolOut(entered=service.enrol_customers(session, ref, body.customer_ids, actor=principal.actor))


@router.get("/{ref}/counts", response_model=CountList)
def counts(ref: str, version: int | None = None, session: Session = DB,
           _: Principal = Depends(require_reader)) -> CountList:
    """Per-step counts of a version (entered, waiting, done, failed, exited)."""
    number = version or service.get_journey(session, ref).current_version
    return CountList(version=number, items=[CountOut(**c.__dict__) for c in service.step_counts(session, ref, number)])


@router.get("/{ref}/conversion", response_model=ConversionOut)
def conversion(ref: str, session: Session = DB, _: Principal = Depends(require_reader)) -> ConversionOut:
    """Goal conversion of the treatment against the holdout, with 95% intervals."""
    c = service.conversion(session, ref)

    def rate(pair: tuple[int, int], ci: object) -> Rate:
        """Return one arm's rate with its interval."""
        return Rate(converted=pair[0], enrolled=pair[1], low=getattr(ci, "low", None), high=getattr(ci, "high", None))

    return ConversionOut(goal=c.goal, treatment=rate(c.treatment, c.treatment_ci), holdout=rate(c.holdout, c.holdout_ci),
                         lift_low=c.lift_ci.low if c.lift_ci else None, lift_high=c.lift_ci.high if c.lift_ci else None)
