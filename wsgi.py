"""WSGI entry point for Gunicorn: ``gunicorn --config gunicorn.conf.py wsgi:app``."""

from api import create_app

app = create_app()
