"""HTTP and WebSocket blueprints; the only layer that knows about status codes."""
