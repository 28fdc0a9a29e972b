"""Scenario 7's part of the report: several instances on a Cluster beside one on one Redis."""

from __future__ import annotations

from typing import Any


def summary_line(s: dict[str, Any]) -> str | None:
    if "instances" not in s:
        return None
    one, many, kill = (
        s["instances"]["single"],
        s["instances"]["cluster"],
        s["instances"]["failover"],
    )
    return (
        f"instances: {many['setup']}: p50 {many['p50_ms']:.1f} ms, p99 {many['p99_ms']:.1f} ms,"
        f" lost {many['lost']}, dup {many['duplicates']}, out of order {many['out_of_order']}"
        f" (one instance: p50 {one['p50_ms']:.1f} ms, p99 {one['p99_ms']:.1f} ms); one"
        f" SIGKILLed: {kill['back']}/{kill['sockets_moved']} back on another in"
        f" {kill['all_back_s']:.1f} s, missing {kill['missing']}, dup {kill['duplicates']}"
    )


def section(s: dict[str, Any]) -> list[str]:
    if "instances" not in s:
        return []
    one, many, kill = (
        s["instances"]["single"],
        s["instances"]["cluster"],
        s["instances"]["failover"],
    )
    rows = [
        f"| {r['setup']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f}"
        f" | {r['deliveries_received']:,} | {r['lost']} | {r['duplicates']} | {r['out_of_order']}"
        f" | {r['server_cpu_us_per_delivery']:.1f} | {r['redis_cpu_us_per_event']:.0f} |"
        for r in (one, many)
    ]
    return [
        "## 7. Several instances on a Redis Cluster",
        "",
        f"{many['sockets']:,} sockets, each following one of {many['endpoints']} endpoints, every"
        " endpoint followed on every instance; webhooks at"
        f" {many['events_per_s']}/s round the endpoints, each instance's load generator sending"
        " its share to that instance, so an event taken by one instance reaches the sockets of"
        " all (on the Cluster by its endpoint's sharded channel). The same sockets and load on"
        " the one-instance bridge on one Redis first (`bench/scenarios/instances.py`). Server"
        " CPU covers every worker and master, ingest included; Redis CPU every node.",
        "",
        "| setup | p50 ms | p99 ms | max ms | deliveries | lost | dup | out of cursor order"
        " | server CPU µs per delivery | Redis CPU µs per event |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "Each event is framed once per worker that has a follower of its endpoint: here every"
        f" worker has, so {one['instances'] * 2} workers frame it on one instance and"
        f" {many['instances'] * 2} across {many['instances']}; and on this machine the"
        f" {many['instances']} instances and the 3 Redis nodes share the same cores. So the"
        " per-delivery and Redis figures of the Cluster row are what one machine pays for all"
        " of them, an upper bound for instances on their own machines (docs/scaling.md).",
        "",
        "Then one instance (its master and workers) is SIGKILLed while webhooks go on to the"
        f" other two: {kill['back']:,} of its {kill['sockets_moved']:,} sockets were back on a"
        f" surviving instance with `since` after {kill['all_back_s']:.1f} s ({kill['attempts']:,}"
        f" attempts); over the {kill['events_acked']:,} webhooks acknowledged meanwhile,"
        f" **{kill['missing']} missing, {kill['duplicates']} duplicates,"
        f" {kill['out_of_order']} out of order**.",
        "",
    ]
