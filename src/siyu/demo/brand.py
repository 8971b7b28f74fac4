"""Create the brand's structure through the services: staff, channel codes, departures, admin access."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.demo import catalog
from siyu.demo.plan import BrandPlan
from siyu.domains.access import service as access
from siyu.domains.channel_codes import service as channel_codes
from siyu.domains.channel_codes.validation import PoolEntry
from siyu.domains.staff import service as staff
from siyu.kit.time import UTC

ACTOR = "demo"


def create_structure(session: Session, plan: BrandPlan) -> None:
    """Create every staff member and channel code of the plan."""
    for member in plan.staff:
        staff.create_staff(session, member.userid, member.name, department=member.department, store=member.store,
                           actor=ACTOR)
    for code in plan.codes:
        channel_codes.create_code(
            session, name=code.name, platform=code.platform, strategy=code.strategy, state=code.state,
            channel=code.channel, pool=[PoolEntry(u, w, cap) for u, w, cap in code.pool],
            working_hours=code.working_hours, backup=code.backup, tags=code.tags,
            welcome_template=catalog.WELCOME, actor=ACTOR)


def depart_staff(session: Session, plan: BrandPlan) -> int:
    """Mark the plan's leavers departed, their customers inherited by a colleague; return how many left."""
    for userid, (when, heir) in sorted(plan.departures.items()):
        leaver = staff.staff_by_userid(session, userid)
        successor = staff.staff_by_userid(session, heir)
        staff.depart_staff(session, leaver.id, inherit_to=successor.id, actor=ACTOR,
                           at=datetime.fromtimestamp(when, UTC))
    return len(plan.departures)


def create_admin(session: Session) -> tuple[str, str]:
    """Create the admin user with a generated password and an admin API key; return both secrets."""
    password = secrets.token_urlsafe(12)
    access.create_user(session, "admin", password, "admin", actor=ACTOR)
    _key, token = access.create_api_key(session, "demo admin", ["admin"], actor=ACTOR)
    return password, token
