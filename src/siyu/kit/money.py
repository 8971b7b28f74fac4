"""Money as integer fen (分) in storage and Decimal yuan at the edges; never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_fen(value: object) -> int:
    """Convert a yuan amount (str, int or Decimal; floats via their shortest repr) to integer fen.

    Raises ValueError for non-numbers, negatives handled by callers, and more than 2 decimals.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("amount must be a number of yuan such as \"199.00\"")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"amount {value!r} is not a number") from exc
    if not amount.is_finite():
        raise ValueError(f"amount {value!r} is not a finite number")
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValueError(f"amount {value!r} has more than 2 decimal places")
    return int((amount * 100).to_integral_value())


def from_fen(fen: int) -> Decimal:
    """Return the Decimal yuan for integer fen."""
    return (Decimal(fen) / 100).quantize(CENT)
