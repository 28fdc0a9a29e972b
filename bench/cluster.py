"""A real Redis Cluster of valkey-server nodes on free loopback ports, for the scale-out
tests and the bench's several-instances scenario (so it needs nothing from the test suite)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis
from redis.crc import key_slot

from bench.loopback import free_port
from bridge import keys
from bridge.embedded import EmbeddedRedis, server_binary


def replicated(primary: redis.Redis, key: str) -> bool:
    """Whether a replica has everything written to `primary` so far (replication is one
    ordered stream: our own write acknowledged means all before it are; WAIT counts only the
    writes of the connection that asks)."""
    primary.set(key, "1")
    acknowledged: int = primary.wait(1, 5000)
    return acknowledged >= 1


class Cluster:
    """Three valkey-server primaries joined into one cluster (and `replicas` replicas of each),
    on free loopback ports."""

    def __init__(self, root: Path, replicas: int = 0) -> None:
        self.replicas = replicas
        self.nodes = [
            EmbeddedRedis(
                root / f"node{i}",
                port=free_port(),
                extra_args=(
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-port", str(free_port()),  # not port + 10000, which may be taken
                    "--cluster-node-timeout", "1000",
                    # The other nodes keep serving their slots while one is down.
                    "--cluster-require-full-coverage", "no",
                ),
            )
            for i in range(3 * (1 + replicas))
        ]  # fmt: skip

    @property
    def url(self) -> str:
        seeds = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:2])
        return f"redis+cluster://{seeds}"

    def start(self) -> Cluster:
        for node in self.nodes:
            node.start()
        cli = Path(server_binary()).with_name("valkey-cli")
        subprocess.run(
            [str(cli), "--cluster", "create",
             *(f"127.0.0.1:{n.port}" for n in self.nodes),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        wait_until(lambda: all(self._state(n) == "ok" for n in self.nodes), timeout=20)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def node(self, i: int) -> redis.Redis:
        return redis.Redis(port=self.nodes[i].port)

    @staticmethod
    def _state(node: EmbeddedRedis) -> str:
        with redis.Redis(port=node.port) as client:
            info: bytes = client.execute_command("CLUSTER", "INFO")
        return dict(line.split(":", 1) for line in info.decode().split())["cluster_state"]

    def owner(self, endpoint_id: str) -> int:
        """Which node serves this endpoint's keys."""
        slot = key_slot(keys.stream(endpoint_id).encode())
        alive = next(i for i, n in enumerate(self.nodes) if n.process is not None)
        with self.node(alive) as client:
            for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return next(i for i, n in enumerate(self.nodes) if n.port == primary[1])
        raise AssertionError(f"slot {slot} is not served")

    def endpoint_on(self, i: int) -> str:
        """A fresh endpoint id whose keys live on node `i`."""
        while True:
            candidate = "t" + uuid.uuid4().hex[:12]
            if self.owner(candidate) == i:
                return candidate

    def slot(self, endpoint_id: str) -> int:
        return int(key_slot(keys.stream(endpoint_id).encode()))

    def shard_subscribers(self, i: int, endpoint_id: str) -> int:
        """How many connections hold a sharded subscription to the endpoint's channel on node i."""
        channel = keys.events_shard(endpoint_id)
        with self.node(i) as client:
            counts = client.execute_command("PUBSUB", "SHARDNUMSUB", channel)
        return int(counts[1])

    def migrate(self, endpoint_id: str, target: int, between: Callable[[], None]) -> None:
        """Move the endpoint's slot to node `target` as `valkey-cli --cluster reshard` does:
        IMPORTING/MIGRATING, MIGRATE its keys, SETSLOT NODE everywhere; `between()` runs
        after each step so traffic can go on meanwhile."""
        slot, source = self.slot(endpoint_id), self.owner(endpoint_id)
        with self.node(source) as src, self.node(target) as dst:
            src_id, dst_id = (c.execute_command("CLUSTER", "MYID").decode() for c in (src, dst))
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
            between()
            for _ in range(100):  # bounded: 100 keys per MIGRATE, far more than a test holds
                batch = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
                if not batch:
                    break
                src.execute_command(
                    "MIGRATE", "127.0.0.1", self.nodes[target].port, "", 0, 5000, "KEYS", *batch
                )
            between()
        others = [j for j in range(len(self.nodes)) if j not in (target, source)]
        for i in (target, source, *others):  # the new owner first, as Redis's docs advise
            if self.nodes[i].process is not None:
                with self.node(i) as client:
                    client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        wait_until(lambda: self.owner(endpoint_id) == target, timeout=10)


def wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"the cluster did not get there within {timeout} s")
        time.sleep(0.05)
