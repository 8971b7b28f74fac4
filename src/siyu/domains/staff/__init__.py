"""Staff and ownership (归属). Other domains use the service functions and tables exported here."""

from siyu.domains.staff.models import Ownership, Staff
from siyu.domains.staff.service import (
    ActiveOwnership,
    Departure,
    FollowRelation,
    active_counts,
    active_ownerships,
    active_through_codes,
    added_through_code,
    close_ownerships,
    depart_staff,
    ensure_staff,
    open_ownerships,
    owned_identities_query,
    owned_identity_ids,
    owners_of,
    staff_by_ids,
    staff_by_userids,
    staff_ids_by_userid,
    transfer_customers,
)

__all__ = ["ActiveOwnership", "Departure", "FollowRelation", "Ownership", "Staff", "active_counts",
           "active_ownerships", "active_through_codes", "added_through_code", "close_ownerships", "depart_staff",
           "ensure_staff", "open_ownerships", "owned_identities_query", "owned_identity_ids", "owners_of",
           "staff_by_ids", "staff_by_userids", "staff_ids_by_userid", "transfer_customers"]
