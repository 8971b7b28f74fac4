"""API shapes for merging, unmerging, splitting and the review queue."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MergeIn(_Body):
    """Merge another customer into this one by hand."""

    other_customer_id: int
    reason: str = Field(min_length=1, max_length=500)
    force: bool = Field(default=False, description="Merge despite a unique-identity conflict or an operator split.")


class UnmergeIn(_Body):
    """Undo one merge: the merged customer gets back the identities (and facts) it brought."""

    merge_id: int
    reason: str = Field(min_length=1, max_length=500)


class SplitIn(_Body):
    """Split identities (and the facts anchored on them) off into a new customer."""

    identity_ids: list[int] = Field(min_length=1, max_length=50)
    reason: str = Field(min_length=1, max_length=500)


class ResolveIssueIn(_Body):
    """Close a review-queue entry."""

    status: Literal["resolved", "dismissed"] = "resolved"
    resolution: str = Field(min_length=1, max_length=500)
