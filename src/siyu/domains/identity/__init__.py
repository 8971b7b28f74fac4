"""Identity graph (OneID). The package surface exports the tables and the kind registry's types; use
identity.service for rules."""

from siyu.domains.identity.kinds import IdentityError, KindRegistry
from siyu.domains.identity.models import Identity, IdentityBlock, IdentityIssue, IdentityLink, Merge

__all__ = ["Identity", "IdentityBlock", "IdentityError", "IdentityIssue", "IdentityLink", "KindRegistry", "Merge"]
