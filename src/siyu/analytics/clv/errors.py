"""Errors of the CLV models: bad inputs (4xx, fix the data) and fits the data cannot support."""

from __future__ import annotations

from siyu.errors import SiyuError, ValidationFailed


class InvalidClvInput(ValidationFailed):
    """Customer summaries or purchases that the models cannot use as given."""

    code = "invalid_clv_input"


class ClvFitFailed(SiyuError):
    """A maximum-likelihood fit that did not reach a usable optimum."""

    code = "clv_fit_failed"
    status = 422
