"""Tags: other domains apply, remove and read tags through these service functions."""

from siyu.domains.tags.service import apply_tags, apply_tags_bulk, create_tag, list_tags, remove_tag, tags_of

__all__ = ["apply_tags", "apply_tags_bulk", "create_tag", "list_tags", "remove_tag", "tags_of"]
