"""gunicorn configuration: see bridge/serving.py (settings come from BRIDGE_* variables)."""

from bridge.serving import *  # noqa: F403
