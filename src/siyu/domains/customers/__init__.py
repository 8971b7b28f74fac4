"""Customers: the person record. The package surface exports only tables and the summary shape (no
services) so any domain can join on them without an import cycle."""

from siyu.domains.customers.models import Consent, Customer
from siyu.domains.customers.schemas import CustomerSummary

__all__ = ["Consent", "Customer", "CustomerSummary"]
