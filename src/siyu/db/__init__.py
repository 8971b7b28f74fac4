"""Database plumbing: declarative base, engine, unit of work."""

from siyu.db.base import Base
from siyu.db.engine import get_engine, make_engine, session_factory, unit_of_work

__all__ = ["Base", "get_engine", "make_engine", "session_factory", "unit_of_work"]
