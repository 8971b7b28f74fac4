"""The standard catalogue of event types (docs/events.md) and the rule for custom types.

A custom type is namespaced ``<namespace>.<name>`` in lower snake case (``acme.quiz_completed``);
standard types have no dot. Some standard types require properties that other domains rely on.
"""

from __future__ import annotations

import re

STANDARD: dict[str, tuple[str, tuple[str, ...]]] = {
    # type: (description, required properties)
    "contact_added": ("A customer added a staff member on WeCom (or was added).", ()),
    "contact_deleted_by_customer": ("The customer deleted the staff member (a loss).", ("staff_userid",)),
    "contact_deleted_by_staff": ("The staff member deleted the customer.", ("staff_userid",)),
    "group_joined": ("Joined a customer group (社群).", ("chat_id",)),
    "group_left": ("Left a customer group.", ("chat_id",)),
    "message_received": ("A message from the customer reached staff or a group.", ()),
    "message_sent": ("Staff or the brand sent the customer a message.", ()),
    "content_viewed": ("Viewed a piece of content (article, video, poster…).", ()),
    "content_clicked": ("Clicked a link in content.", ()),
    "content_shared": ("Shared content with others.", ()),
    "content_favourited": ("Saved content as a favourite.", ()),
    "content_commented": ("Commented on content.", ()),
    "lead_submitted": ("Submitted a lead form.", ()),
    "app_installed": ("Installed the brand's app.", ()),
    "app_opened": ("Opened the brand's app.", ()),
    "mini_program_opened": ("Opened the mini program.", ()),
    "page_viewed": ("Viewed a page in the app, mini program or site.", ()),
    "product_viewed": ("Viewed a product.", ()),
    "cart_added": ("Added a product to the cart.", ()),
    "followed": ("Followed the official account / Douyin account.", ()),
    "unfollowed": ("Unfollowed the official account / Douyin account.", ()),
    "coupon_claimed": ("Claimed a coupon.", ()),
    "coupon_redeemed": ("Redeemed a coupon in an order.", ()),
    "order_paid": ("Paid an order (event form; order facts go to /orders).", ()),
    "order_refunded": ("An order was refunded (event form).", ()),
    "order_delivered": ("An order was delivered (event form).", ()),
    "checked_in": ("Checked in (打卡) in an activity or a store.", ()),
    "live_watched": ("Watched a live stream.", ()),
    "store_visited": ("Visited an offline store.", ()),
    "invited": ("Invited another person (fission / 裂变).", ()),
    "member_joined": ("Became a member.", ()),
    "points_earned": ("Earned loyalty points.", ()),
    "survey_answered": ("Answered a survey.", ()),
    "consent_granted": ("Agreed to be contacted on a channel (property channel: wecom, sms, email, "
                        "official_account, app_push, phone or all; optional purpose, default marketing).", ("channel",)),
    "consent_withdrawn": ("Withdrew consent for a channel (opt-out / 退订); same properties.", ("channel",)),
}

_CUSTOM = re.compile(r"^[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_.]{0,62}$")


def check_type(event_type: str) -> tuple[str, ...]:
    """Return the required properties of ``event_type``; raise ValueError if it is not allowed."""
    found = STANDARD.get(event_type)
    if found is not None:
        return found[1]
    if _CUSTOM.match(event_type):
        return ()
    raise ValueError(f"event type {event_type[:80]!r} is neither a standard type (see docs/events.md) "
                     "nor a namespaced custom type such as 'acme.quiz_completed'")
