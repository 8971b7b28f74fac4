"""Customer groups: ingestion calls apply_group_events; readers use groups_of, the listings and the tables."""

from siyu.domains.groups.models import CustomerGroup, GroupMembership
from siyu.domains.groups.service import (
    EVENT_TYPES,
    GroupStay,
    GroupSummary,
    apply_group_events,
    get_group,
    group_members,
    groups_by_ids,
    groups_of,
    list_groups,
)

__all__ = ["CustomerGroup", "EVENT_TYPES", "GroupMembership", "GroupStay", "GroupSummary", "apply_group_events",
           "get_group", "group_members", "groups_by_ids", "groups_of", "list_groups"]
