"""The WSGI entry point gunicorn imports (`gunicorn -c gunicorn.conf.py app:app`)."""

from bridge.factory import create_app

app = create_app()
