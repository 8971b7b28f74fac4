"""API shapes of the service domain: rules, FAQ, staff SLA settings, decisions and the SLA report.

Unknown fields are refused (422) so a typo never passes silently; staff are named by WeCom userid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MenuOption(_In):
    key: str = Field(min_length=1, max_length=8, description='what the customer types, e.g. "1"')
    label: str = Field(min_length=1, max_length=80)
    reply: str = Field(min_length=1, max_length=2000)


class RuleIn(_In):
    name: str = Field(min_length=1, max_length=80)
    match_type: str = Field(description="exact | contains | fuzzy | regex")
    patterns: list[str] = Field(min_length=1, max_length=100)
    reply: str = Field(min_length=1, max_length=2000)
    priority: int = Field(default=0, ge=-1000, le=1000, description="higher wins")
    enabled: bool = True
    threshold: int | None = Field(default=None, description="fuzzy only: rapidfuzz ratio 50-100 (default 80)")
    options: list[MenuOption] = Field(default_factory=list, description="numbered menu shown with the reply")


class RulePatch(_In):
    name: str | None = None
    match_type: str | None = None
    patterns: list[str] | None = Field(default=None, min_length=1, max_length=100)
    reply: str | None = None
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    enabled: bool | None = None
    threshold: int | None = None
    options: list[MenuOption] | None = None


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    match_type: str
    patterns: list[str]
    reply: str
    priority: int
    enabled: bool
    threshold: int | None
    options: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class TryIn(_In):
    text: str = Field(min_length=1, max_length=2000)
    menu_rule_id: int | None = Field(default=None, description="the menu the customer was last shown")


class DecisionOut(BaseModel):
    kind: str = Field(description="menu_option | rule | faq | handoff")
    reply: str | None
    reason: str
    rule_id: int | None
    faq_id: int | None
    confidence: float | None
    candidates: list[dict[str, Any]]


class FaqIn(_In):
    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=2000)
    alternatives: list[str] = Field(default_factory=list, max_length=50)
    keywords: list[str] = Field(default_factory=list, max_length=50, description="words added to jieba's dictionary")
    enabled: bool = True


class FaqPatch(_In):
    question: str | None = None
    answer: str | None = None
    alternatives: list[str] | None = None
    keywords: list[str] | None = None
    enabled: bool | None = None


class FaqOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    question: str
    answer: str
    alternatives: list[str]
    keywords: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class AskIn(_In):
    text: str = Field(min_length=1, max_length=2000)
    limit: int = Field(default=3, ge=1, le=20)


class FaqHitOut(BaseModel):
    faq_id: int
    question: str
    answer: str
    phrasing: str
    score: float
    confidence: float
    coverage: float


class AskOut(BaseModel):
    threshold: float
    answered: bool
    words: list[str]
    hits: list[FaqHitOut]


class StaffSettingsIn(_In):
    sla_minutes: int | None = Field(default=None, ge=1, le=10080)
    working_hours: dict[str, Any] | None = Field(default=None, description='{"mon": [["09:00", "18:00"]], …}')
    supervisor: str | None = Field(default=None, description='userid of the supervisor; "" clears it')


class StaffSettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    staff_id: int
    sla_minutes: int
    working_hours: dict[str, Any]
    supervisor_id: int | None
    updated_at: datetime


class SlaRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    staff_id: int
    userid: str
    name: str
    conversations: int
    replied: int
    replied_within: int
    breaches: int
    median_first_response_seconds: float | None


class SlaReportOut(BaseModel):
    day: str
    timezone: str
    rows: list[SlaRowOut]


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    staff_id: int | None
    state: str
    updated_at: datetime


class SynonymsIn(_In):
    words: list[str] = Field(min_length=2, max_length=20, description="words the FAQ treats as one")


class SynonymsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    words: list[str]
    created_at: datetime
