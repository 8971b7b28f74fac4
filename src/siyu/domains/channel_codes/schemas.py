"""API shapes for channel codes. Staff are named by WeCom userid.

Field values are checked by the service (so errors carry stable codes such as ``invalid_state``);
the models here only fix the shape and refuse unknown fields.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PoolEntryIn(_In):
    userid: str
    weight: int = 1
    daily_cap: int | None = None


class CodeCreate(_In):
    name: str
    platform: str = Field(description="douyin | xiaohongshu | taobao | meituan | weibo | bilibili | wechat_oa | "
                                      "mini_program | app | store | poster | parcel | other")
    strategy: str = Field(default="fixed", description="fixed | round_robin | weighted | least_loaded")
    pool: list[PoolEntryIn]
    state: str | None = Field(default=None, description="<= 30 of A-Z a-z 0-9 _ - . ; generated when omitted")
    channel: str | None = None
    working_hours: dict[str, Any] | None = Field(default=None, description='{"mon": [["09:00", "18:00"]], …}')
    backup: list[str] = Field(default_factory=list, description="userids used off hours or when all are capped")
    tags: list[str] = Field(default_factory=list)
    welcome_template: str | None = Field(default=None, description="{customer_name} {staff_name} {code_name} …")
    landing_url: str | None = Field(default=None, description="where a scan of the printed QR goes: the WeCom 联系我 link")


class CodeUpdate(_In):
    name: str | None = None
    platform: str | None = None
    strategy: str | None = None
    pool: list[PoolEntryIn] | None = None
    state: str | None = None
    channel: str | None = None
    working_hours: dict[str, Any] | None = None
    backup: list[str] | None = None
    tags: list[str] | None = None
    welcome_template: str | None = None
    landing_url: str | None = None
    active: bool | None = None


class StaffRefOut(BaseModel):
    staff_id: int
    userid: str
    name: str
    status: str


class PoolMemberOut(StaffRefOut):
    weight: int
    daily_cap: int | None


class CodeOut(BaseModel):
    id: int
    name: str
    state: str
    platform: str
    channel: str | None
    strategy: str
    working_hours: dict[str, Any]
    pool: list[PoolMemberOut]
    backup: list[StaffRefOut]
    tags: list[str]
    welcome_template: str | None
    landing_url: str | None
    landing_link: str = Field(description="what the code's printed QR encodes: SIYU_PUBLIC_URL/c/<state>")
    active: bool
    created_at: datetime
    updated_at: datetime


class CodePage(BaseModel):
    items: list[CodeOut]
    next_cursor: int | None


class AssigneeIn(_In):
    at: AwareDatetime | None = Field(default=None, description="when the scan happens (default: now)")


class AssigneeOut(BaseModel):
    code_id: int
    staff_id: int
    userid: str
    name: str
    via: str


class DayStatOut(BaseModel):
    day: date
    added: int
    lost: int
    net: int


class StatsOut(BaseModel):
    code_id: int
    days: list[DayStatOut]
    added: int
    lost: int
    active: int
