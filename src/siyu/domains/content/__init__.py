"""Content library: items, A/B variants, collections, sandboxed personalisation, tracked links, metrics
and smart push. Other domains call :func:`prepare_sends` to turn an item into per-customer outbox
payloads and :func:`recommend` to pick "the best item from collection X"."""

from siyu.domains.content.recommend import Choice, best_item, candidates, recommend, recommend_each
from siyu.domains.content.service import (ItemView, Prepared, get_item, item_view, named_variant, prepare_group_send,
                                          prepare_sends)

__all__ = ["Choice", "best_item", "candidates", "ItemView", "Prepared", "get_item", "item_view", "named_variant", "prepare_group_send",
           "prepare_sends", "recommend", "recommend_each"]
