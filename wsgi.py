"""WSGI entry point for Gunicorn: ``gunicorn --config gunicorn.conf.py wsgi:app``."""

from api.web import create_app

app = create_app()
