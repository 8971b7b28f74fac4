"""QR images (PNG, SVG) of a link, for printing: channel codes on posters and parcel inserts."""

from __future__ import annotations

import io

import segno

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}


def qr_image(link: str, fmt: str) -> bytes:
    """Return ``link`` as a QR image in ``fmt`` (png | svg), error correction M (survives a smudged print)."""
    if fmt not in FORMATS:
        raise ValueError(f"QR images come as {' or '.join(FORMATS)}, not {fmt!r}")
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind=fmt, scale=12 if fmt == "png" else 8, border=4)
    return out.getvalue()
