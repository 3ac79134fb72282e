"""WSGI entry point: ``granian wsgi:app`` (settings: deploy/granian.env) or ``flask --app wsgi``."""

from alerts.app import create_app

app = create_app()
