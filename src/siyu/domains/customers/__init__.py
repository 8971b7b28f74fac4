"""Customers: the person record. The package surface exports only tables (no services) so any
domain can join on them without an import cycle."""

from siyu.domains.customers.models import Consent, Customer

__all__ = ["Consent", "Customer"]
