"""ASGI entry point for uvicorn: ``siyu.web.asgi:app`` (``siyu serve``), with the summaries' scheduled refresh."""

from siyu.kit.runtime import tune_gc
from siyu.web.app import create_app

app = create_app(schedule=True)
tune_gc()
