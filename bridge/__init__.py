"""Webhook Bridge: signed third-party webhooks in, live WebSocket events out."""

__version__ = "0.1.0"
