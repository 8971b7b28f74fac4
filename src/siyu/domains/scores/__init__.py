"""Scores: per-customer results of the analyses (RFM, AIPL, lifecycle, CLV, churn and intent), kept in the operational store."""

from siyu.domains.scores.models import CustomerScore, ScoreRun

__all__ = ["CustomerScore", "ScoreRun"]
