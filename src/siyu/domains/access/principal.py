"""Who is calling: the identity every service call is made on behalf of."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("admin", "operator", "analyst", "staff")
SCOPES = ("ingest", "admin")


@dataclass(frozen=True)
class Principal:
    """A user or API key, with what it may do and see.

    ``staff_id`` set means the caller is a staff user: data access is scoped to the customers
    that staff member follows (enforced by repositories through :meth:`scoped_staff_id`).
    """

    actor: str
    role: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    staff_id: int | None = None
    can_read_pii: bool = False

    def __post_init__(self) -> None:
        # A staff principal without a staff member would read as unscoped: refuse to build one.
        if self.role == "staff" and self.staff_id is None:
            raise ValueError("a staff principal needs a staff_id")

    @property
    def scoped_staff_id(self) -> int | None:
        """Return the staff id reads must be restricted to, or None for unrestricted roles."""
        return self.staff_id if self.role == "staff" else None

    def has_scope(self, scope: str) -> bool:
        """Return whether this caller holds ``scope`` (admin implies every scope)."""
        return scope in self.scopes or "admin" in self.scopes


SYSTEM = Principal(actor="system", role="admin", scopes=frozenset({"admin"}), can_read_pii=True)
CLI = Principal(actor="cli", role="admin", scopes=frozenset({"admin"}), can_read_pii=True)
