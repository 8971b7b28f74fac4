"""Helpers of the browser tests: the running server's description, logging in, screenshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page
from sqlalchemy import Engine, select

from siyu.db.engine import make_engine
from siyu.domains.customers import Customer
from siyu.domains.identity import Identity
from siyu.domains.staff.models import Ownership, Staff
from siyu.kit.crypto import PiiVault

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PASSWORD = "browser-pass-123"


@dataclass
class Server:
    """A running console: its base URL, database and the logins of each role."""

    url: str
    database_url: str
    env: dict[str, str]
    api_key: str
    passwords: dict[str, str] = field(default_factory=dict)
    staff_userids: dict[str, str] = field(default_factory=dict)  # username -> staff userid

    def engine(self) -> Engine:
        """Return an engine on the server's database (for setting up and checking data)."""
        return make_engine(self.database_url)


def screenshot(tab: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot (of the whole page, or of what the viewport shows) under tests/artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=full_page)
    return path


def login(tab: Page, server: Server, username: str, next_path: str = "/") -> None:
    """Log in through the form as ``username`` and wait for the page after it."""
    tab.goto(f"/login?next={next_path}")
    tab.fill("input[name=username]", username)
    tab.fill("input[name=password]", server.passwords[username])
    tab.click("form[action='/login'] button[type=submit]")
    tab.wait_for_load_state("networkidle")


def phone_customer(server: Server, secret: str) -> tuple[int, str]:
    """Return (customer id, plaintext phone) of a live demo customer who has a phone identity."""
    row = _scalar(server, select(Identity.customer_id, Identity.value_enc)
                  .join(Customer, Customer.id == Identity.customer_id)
                  .where(Identity.kind == "phone", Customer.merged_into_id.is_(None)).order_by(Identity.id))
    return int(row.customer_id), PiiVault(secret).decrypt(row.value_enc)


def _scalar(server: Server, query: Any) -> Any:
    engine = server.engine()
    try:
        with engine.connect() as conn:
            return conn.execute(query).first()
    finally:
        engine.dispose()


def followed_contact(server: Server, userid: str) -> tuple[int, str]:
    """Return (customer id, external_userid) of a live customer the staff member ``userid`` follows on WeCom."""
    row = _scalar(server, select(Identity.customer_id, Identity.value)
                  .join(Ownership, Ownership.identity_id == Identity.id).join(Staff, Staff.id == Ownership.staff_id)
                  .join(Customer, Customer.id == Identity.customer_id)
                  .where(Staff.userid == userid, Ownership.removed_at.is_(None), Identity.kind == "external_userid",
                         Customer.merged_into_id.is_(None)).order_by(Identity.id))
    assert row is not None, f"{userid} follows no customer"
    return int(row.customer_id), str(row.value)


def customer_not_followed_by(server: Server, userid: str) -> int:
    """Return the id of a live customer that ``userid`` does not follow."""
    followed = (select(Identity.customer_id).join(Ownership, Ownership.identity_id == Identity.id)
                .join(Staff, Staff.id == Ownership.staff_id)
                .where(Staff.userid == userid, Ownership.removed_at.is_(None)))
    row = _scalar(server, select(Customer.id).where(Customer.merged_into_id.is_(None), Customer.id.not_in(followed))
                  .order_by(Customer.id))
    return int(row.id)
