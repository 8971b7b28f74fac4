"""Identity graph (OneID). The package surface exports only tables; use identity.service for rules."""

from siyu.domains.identity.models import Identity, IdentityBlock, IdentityIssue, IdentityLink, Merge

__all__ = ["Identity", "IdentityBlock", "IdentityIssue", "IdentityLink", "Merge"]
