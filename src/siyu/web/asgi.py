"""ASGI entry point for uvicorn: ``siyu.web.asgi:app``."""

from siyu.kit.runtime import tune_gc
from siyu.web.app import create_app

app = create_app()
tune_gc()
