"""API shapes of the content library (/api/v1/content). Unknown fields are refused (422)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

KINDS = ("text", "image", "article", "video", "mini_program", "poster", "file")
STAGES = ("awareness", "interest", "purchase", "loyalty")
Kind = Literal["text", "image", "article", "video", "mini_program", "poster", "file"]
Stage = Literal["awareness", "interest", "purchase", "loyalty"]
Tag = Field(default_factory=list, max_length=20)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _url(v: str | None) -> str | None:
    if v is not None and not v.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return v


def _tags(v: list[str]) -> list[str]:
    cleaned = [t.strip() for t in v if t.strip()]
    if any(len(t) > 40 for t in cleaned):
        raise ValueError("each tag holds at most 40 characters")
    return list(dict.fromkeys(cleaned))


class ItemIn(_Strict):
    """A new content item."""

    kind: Kind
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=20_000, description="A sandboxed template (docs/content.md).")
    url: str | None = Field(default=None, max_length=1000)
    media_id: str | None = Field(default=None, max_length=200)
    meta: dict[str, Any] = Field(default_factory=dict)
    topics: list[str] = Tag
    products: list[str] = Tag
    stages: list[Stage] = Field(default_factory=list, max_length=4)
    audiences: list[str] = Tag

    _check_url = field_validator("url")(classmethod(lambda cls, v: _url(v)))
    _check_tags = field_validator("topics", "products", "audiences")(classmethod(lambda cls, v: _tags(v)))


class ItemPatch(_Strict):
    """Fields to change on an item (absent: unchanged)."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=20_000)
    url: str | None = Field(default=None, max_length=1000)
    media_id: str | None = Field(default=None, max_length=200)
    meta: dict[str, Any] | None = None
    topics: list[str] | None = Field(default=None, max_length=20)
    products: list[str] | None = Field(default=None, max_length=20)
    stages: list[Stage] | None = Field(default=None, max_length=4)
    audiences: list[str] | None = Field(default=None, max_length=20)
    status: Literal["active", "archived"] | None = None

    _check_url = field_validator("url")(classmethod(lambda cls, v: _url(v)))
    _check_tags = field_validator("topics", "products", "audiences")(
        classmethod(lambda cls, v: None if v is None else _tags(v)))


class VariantIn(_Strict):
    """An A/B variant of an item."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
    title: str | None = Field(default=None, max_length=200)
    body: str = Field(default="", max_length=20_000)
    weight: int = Field(default=1, ge=0, le=1000)


class VariantOut(BaseModel):
    id: int
    name: str
    title: str | None
    body: str
    weight: int


class ItemOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    url: str | None
    media_id: str | None
    meta: dict[str, Any]
    topics: list[str]
    products: list[str]
    stages: list[str]
    audiences: list[str]
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    variants: list[VariantOut] = []


class ItemList(BaseModel):
    items: list[ItemOut]


class CollectionIn(_Strict):
    """A named, ordered set of items."""

    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=400)
    items: list[int] = Field(default_factory=list, max_length=500)


class CollectionOut(BaseModel):
    id: int
    name: str
    description: str
    items: list[int]


class CollectionList(BaseModel):
    items: list[CollectionOut]


class RenderIn(_Strict):
    """Render a body (or an item's, or a variant's) for a customer or for sample values."""

    body: str | None = Field(default=None, max_length=20_000)
    content_id: int | None = None
    variant: str | None = Field(default=None, max_length=32)
    customer_id: int | None = None
    values: dict[str, str] = Field(default_factory=dict, description="Sample values of the whitelisted fields.")
    html: bool = False


class RenderOut(BaseModel):
    text: str
    fields: list[str]


class ScorePartsOut(BaseModel):
    interest_match: float
    stage_fit: float
    bandit_sample: float
    total: float
    matched_topics: list[str]
    posterior: dict[str, float]


class CandidateOut(BaseModel):
    content_id: int
    title: str
    excluded: str | None
    parts: ScorePartsOut | None


class RecommendOut(BaseModel):
    content_id: int | None
    title: str | None
    segment: str
    candidates: list[CandidateOut]


class MetricRow(BaseModel):
    key: str
    sent: int
    delivered: int
    clicked: int
    converted: int
    revenue_fen: int
    click_rate: float | None
    conversion_rate: float | None


class MetricsOut(BaseModel):
    content_id: int
    window_days: int
    by: str
    total: MetricRow
    rows: list[MetricRow]
