"""ASGI entry point for uvicorn: ``siyu.web.asgi:app``."""

from siyu.web.app import create_app

app = create_app()
