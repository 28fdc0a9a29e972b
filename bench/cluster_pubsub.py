"""Plain PUBLISH on one channel vs SPUBLISH on one channel per endpoint, on a real 3-primary
cluster: the Redis CPU, cluster-bus traffic and messages each hub reads per event.

Six subscriber connections play 3 instances x 2 workers; each worker's sockets watch
`WATCHED` of `ENDPOINTS` endpoints. Run: `.venv/bin/python -m bench.cluster_pubsub`.
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
from redis.cluster import RedisCluster

from bench.cluster import Cluster
from bridge import keys

ENDPOINTS = 300
WATCHED = 20  # endpoints each worker's sockets watch
WORKERS = 6
EVENTS = 6000
BODY = "x" * 1000
# The design measured against: one plain channel carrying every endpoint's events.
GLOBAL_CHANNEL = f"{keys.PREFIX}:events"


def _cpu(cluster: Cluster) -> float:
    total = 0.0
    for i in range(3):
        with cluster.node(i) as node:
            info: dict[str, Any] = node.info("cpu")
        total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return total


def _bus(cluster: Cluster) -> int:
    sent = 0
    for i in range(3):
        with cluster.node(i) as node:
            text: bytes = node.execute_command("CLUSTER", "INFO")
        stats = dict(line.split(":", 1) for line in text.decode().split())
        sent += int(stats.get("cluster_stats_messages_publish_sent", 0))
        sent += int(stats.get("cluster_stats_messages_publishshard_sent", 0))
    return sent


def _run(cluster: Cluster, sharded: bool) -> dict[str, float]:
    client = RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    rng = random.Random(13)
    endpoints = [f"bench{n}" for n in range(ENDPOINTS)]
    watches = [set(rng.sample(endpoints, WATCHED)) for _ in range(WORKERS)]
    received = [0] * WORKERS
    pubsubs: list[list[redis.client.PubSub]] = []
    for w, watched in enumerate(watches):
        mine = []
        if sharded:
            by_node: dict[str, list[str]] = {}
            for endpoint in watched:
                node = client.get_node_from_key(keys.events_shard(endpoint))  # type: ignore[no-untyped-call]
                by_node.setdefault(node.name, []).append(keys.events_shard(endpoint))
            for name, channels in by_node.items():
                conn = client.get_redis_connection(client.get_node(node_name=name))  # type: ignore[no-untyped-call]
                pubsub = conn.pubsub()  # type: ignore[no-untyped-call]
                for channel in channels:
                    pubsub.ssubscribe(channel)
                mine.append(pubsub)
        else:
            pubsub = cluster.node(w % 3).pubsub()  # type: ignore[no-untyped-call]
            pubsub.subscribe(GLOBAL_CHANNEL)
            mine.append(pubsub)
        pubsubs.append(mine)
    stop = threading.Event()

    def drain(w: int) -> None:
        while not stop.is_set():
            for pubsub in pubsubs[w]:
                message = pubsub.get_message(timeout=0.01)
                if message is not None and message["type"] in ("message", "smessage"):
                    received[w] += 1

    readers = [threading.Thread(target=drain, args=(w,), daemon=True) for w in range(WORKERS)]
    for reader in readers:
        reader.start()
    time.sleep(0.5)  # subscriptions confirmed before the first event: not a measurement
    expected = [0] * WORKERS
    cpu, bus = _cpu(cluster), _bus(cluster)
    pipes: dict[str, Any] = {}
    for n in range(EVENTS):
        endpoint = endpoints[n % ENDPOINTS]
        for w, watched in enumerate(watches):
            expected[w] += (endpoint in watched) if sharded else 1
        if sharded:
            channel = keys.events_shard(endpoint)
            node = client.get_node_from_key(channel)  # type: ignore[no-untyped-call]
            if node.name not in pipes:
                pipes[node.name] = client.get_redis_connection(node).pipeline(transaction=False)
            name = node.name
            pipes[name].execute_command("SPUBLISH", channel, endpoint + "\n" + BODY)
        else:
            name = str(n % 3)
            if name not in pipes:
                pipes[name] = cluster.node(n % 3).pipeline(transaction=False)
            pipes[name].publish(GLOBAL_CHANNEL, endpoint + "\n" + BODY)
        if n % 200 == 199:
            for pipe in pipes.values():
                pipe.execute()
    for pipe in pipes.values():
        pipe.execute()
    for _ in range(600):  # bounded: at most 60 s
        if received == expected:
            break
        time.sleep(0.1)
    used, relayed = _cpu(cluster) - cpu, _bus(cluster) - bus
    stop.set()
    for reader in readers:
        reader.join(5)
    for mine in pubsubs:
        for pubsub in mine:
            pubsub.close()
    client.close()
    return {
        "redis_cpu_ms_per_1000_events": used * 1000 / EVENTS * 1000,
        "bus_messages_per_event": relayed / EVENTS,
        "messages_read_per_event_per_worker": sum(received) / EVENTS / WORKERS,
        "lost": sum(expected) - sum(received),
        "connections_per_worker": sum(len(p) for p in pubsubs) / WORKERS,
        "channels_per_worker": WATCHED if sharded else 1,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        cluster = Cluster(Path(root)).start()
        try:
            for sharded in (False, True):
                figures = _run(cluster, sharded)
                name = "SPUBLISH per endpoint" if sharded else "PUBLISH one channel"
                shown = ", ".join(f"{k} {v:.2f}" for k, v in figures.items())
                print(f"{name}: {shown}", file=sys.stdout, flush=True)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
