"""What each role may do in the console, and the navigation built from it.

Navigation follows the six lines of work of a private-domain team (用户运营, 内容运营, 产品运营,
数据运营, 维护运营, 活动运营): each page belongs to one line, so a later capability has an obvious
home. A line shows only the pages the role may open, and a line with none is not shown (pages
that do not exist yet are never linked). A URL whose capability the role lacks answers 403.
"""

from __future__ import annotations

from dataclasses import dataclass

CAPABILITIES: dict[str, frozenset[str]] = {
    "dashboard.view": frozenset({"admin", "operator", "analyst"}),  # 私域健康度
    "customers.view": frozenset({"admin", "operator", "analyst", "staff"}),
    "customers.edit": frozenset({"admin", "operator", "staff"}),  # tags and follow-up notes
    "customers.export": frozenset({"admin", "operator", "analyst"}),  # CSV, masked unless the user may read PII
    "identity.view": frozenset({"admin", "operator", "analyst"}),  # the merge graph
    "identity.edit": frozenset({"admin", "operator"}),  # merge, unmerge, the review queue
    "sidebar": frozenset({"staff"}),  # the WeCom chat sidebar, scoped to the staff member
    "channel_codes.view": frozenset({"admin", "operator", "analyst"}),
    "channel_codes.edit": frozenset({"admin", "operator"}),  # create, edit, deactivate
    "staff.view": frozenset({"admin", "operator", "analyst"}),
    "staff.manage": frozenset({"admin", "operator"}),  # transfers and departures
    "groups.view": frozenset({"admin", "operator", "analyst"}),
    "segments.view": frozenset({"admin", "operator", "analyst", "staff"}),  # staff users: their own customers
    "segments.edit": frozenset({"admin", "operator"}),
    "tags.view": frozenset({"admin", "operator", "analyst"}),
    "tags.edit": frozenset({"admin", "operator"}),  # groups, manual and rule tags, tagging a segment
    "audit.view": frozenset({"admin"}),  # who did what, who read unmasked PII
    "attention.view": frozenset({"admin", "operator", "analyst", "staff"}),  # today's at-risk / high-intent lists (staff: own)
    "analytics.view": frozenset({"admin", "operator", "analyst"}),  # RFM, AIPL, lifecycle, retention: every customer
    "growth.edit": frozenset({"admin", "operator"}),  # enter channel costs, save a funnel's drop-outs as a segment
    "service.view": frozenset({"admin", "operator", "analyst"}),  # auto-reply rules, FAQ, the SLA report
    "service.edit": frozenset({"admin", "operator"}),  # change rules and FAQ entries
    "journeys.view": frozenset({"admin", "operator", "analyst"}),  # journeys as flows with live counts
    "journeys.edit": frozenset({"admin", "operator"}),  # create from a template, edit, publish, pause
    "outbox.view": frozenset({"admin", "operator", "analyst"}),  # the outbox with reasons, the do-not-contact list
    "outbox.edit": frozenset({"admin", "operator"}),  # add to and remove from the do-not-contact list
    "tasks.view": frozenset({"admin", "operator", "staff"}),  # the follow-up task inbox (staff: own)
    "content.view": frozenset({"admin", "operator", "analyst"}),  # the content library, previews, metrics
    "content.edit": frozenset({"admin", "operator"}),  # add and change items and variants
    "mass.view": frozenset({"admin", "operator", "analyst"}),  # mass messages and their preview counts
    "mass.edit": frozenset({"admin", "operator"}),  # compose, schedule, send, cancel
}

# The six lines of work, then the administration of the platform itself (audit log, later users).
LINES = ("user_ops", "content_ops", "product_ops", "data_ops", "maintenance_ops", "activity_ops", "system")


@dataclass(frozen=True)
class NavItem:
    """A page in the navigation: message key, path, the capability it needs, its line of work."""

    key: str
    path: str
    capability: str
    line: str


ITEMS = (
    NavItem("nav.customers", "/customers", "customers.view", "user_ops"),
    NavItem("nav.channel_codes", "/channel-codes", "channel_codes.view", "user_ops"),
    NavItem("nav.staff", "/staff", "staff.view", "user_ops"),
    NavItem("nav.groups", "/groups", "groups.view", "user_ops"),
    NavItem("seg.nav.segments", "/segments", "segments.view", "user_ops"),
    NavItem("seg.nav.tags", "/tags", "tags.view", "user_ops"),
    NavItem("attention.nav", "/attention", "attention.view", "user_ops"),
    NavItem("nav.content", "/content", "content.view", "content_ops"),
    NavItem("nav.mass", "/mass", "mass.view", "content_ops"),
    NavItem("nav.dashboard", "/dashboard", "dashboard.view", "data_ops"),
    NavItem("nav.identity_review", "/identity/review", "identity.edit", "data_ops"),
    NavItem("analytics.nav.rfm", "/analytics/rfm", "analytics.view", "data_ops"),
    NavItem("analytics.nav.aipl", "/analytics/aipl", "analytics.view", "data_ops"),
    NavItem("analytics.nav.lifecycle", "/analytics/lifecycle", "analytics.view", "data_ops"),
    NavItem("analytics.nav.retention", "/analytics/retention", "analytics.view", "data_ops"),
    NavItem("growth.nav.funnel", "/analytics/funnel", "analytics.view", "data_ops"),
    NavItem("growth.nav.gmv", "/analytics/gmv", "analytics.view", "data_ops"),
    NavItem("growth.nav.repurchase", "/analytics/repurchase", "analytics.view", "data_ops"),
    NavItem("growth.nav.value", "/analytics/value", "analytics.view", "data_ops"),
    NavItem("growth.nav.attribution", "/analytics/attribution", "analytics.view", "data_ops"),
    NavItem("growth.nav.costs", "/analytics/channel-costs", "analytics.view", "data_ops"),
    NavItem("growth.nav.staff", "/analytics/staff-performance", "analytics.view", "data_ops"),
    NavItem("nav.service_rules", "/service/rules", "service.view", "maintenance_ops"),
    NavItem("nav.service_faq", "/service/faq", "service.view", "maintenance_ops"),
    NavItem("nav.service_sla", "/service/sla", "service.view", "maintenance_ops"),
    NavItem("nav.journeys", "/journeys", "journeys.view", "user_ops"),
    NavItem("nav.tasks", "/tasks", "tasks.view", "user_ops"),
    NavItem("nav.outbox", "/outbox", "outbox.view", "maintenance_ops"),
    NavItem("nav.dnc", "/outbox/do-not-contact", "outbox.view", "maintenance_ops"),
    NavItem("nav.audit", "/audit", "audit.view", "system"),
)


def can(role: str, capability: str) -> bool:
    """Return whether ``role`` holds ``capability``."""
    return role in CAPABILITIES[capability]


def menu(role: str) -> list[tuple[str, list[NavItem]]]:
    """Return [(line, items)] of the lines that have a page ``role`` may open, in the fixed order."""
    out = []
    for line in LINES:
        items = [i for i in ITEMS if i.line == line and can(role, i.capability)]
        if items:
            out.append((line, items))
    return out


def home_path(role: str) -> str | None:
    """Return the dashboard if ``role`` may open it, else the first page of its menu, or None."""
    if can(role, "dashboard.view"):
        return "/dashboard"
    entries = menu(role)
    return entries[0][1][0].path if entries else None
