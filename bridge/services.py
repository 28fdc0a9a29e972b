"""The objects one bridge process shares between requests, built once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from bridge.auth import Authority
from bridge.config import Settings
from bridge.debugger import Budget
from bridge.endpoints import Endpoints
from bridge.hub import Hub
from bridge.redis_client import Client
from bridge.store import Store


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: Client
    store: Store
    endpoints: Endpoints
    hub: Hub
    authority: Authority
    diagnoses: Budget  # the CPU the signature debugger may spend on strangers' bodies

    def close(self) -> None:
        """Stop the hub and drop the Redis pool, for an app that ends before its process does:
        now, and again once the hub's thread is done with it."""
        self.hub.stop(after=self.redis.close)
        self.redis.close()


def services() -> Services:
    found: Services = current_app.extensions["bridge"]
    return found
