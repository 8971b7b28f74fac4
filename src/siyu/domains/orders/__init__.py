"""Orders: the order tables (exported for joins) and the read rules other domains use.

A leaf domain (it imports no other), so any domain may join on ``Order`` / ``OrderItem`` /
``OrderFact`` / ``OrderFactItem`` and call the reads below without an import cycle.
"""

from siyu.domains.orders.models import Order, OrderFact, OrderFactItem, OrderItem
from siyu.domains.orders.service import (
    LineEntry,
    OrderDetailEntry,
    OrderEntry,
    OrderFactEntry,
    OrderSummary,
    order_detail,
    order_facts_before,
    order_summary,
    recent_orders,
)

__all__ = ["LineEntry", "Order", "OrderDetailEntry", "OrderEntry", "OrderFact", "OrderFactEntry", "OrderFactItem",
           "OrderItem", "OrderSummary", "order_detail", "order_facts_before", "order_summary", "recent_orders"]
