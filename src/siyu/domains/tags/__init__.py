"""Tags: other domains apply, remove and read tags through these service functions, and join on the tables."""

from siyu.domains.tags.models import CustomerTag, Tag
from siyu.domains.tags.service import apply_tags, apply_tags_bulk, create_tag, list_tags, remove_tag, tags_of

__all__ = ["CustomerTag", "Tag", "apply_tags", "apply_tags_bulk", "create_tag", "list_tags", "remove_tag",
           "tags_of"]
