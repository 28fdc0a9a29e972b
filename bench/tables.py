"""docs/performance.md's generated part as markdown lines: the targets, a section per scenario.

`sections()` is what bench/report.py writes between its markers; each scenario's section
appears only when the run measured it, the cross-check's (bench/tables_cross.py) too.
"""

from __future__ import annotations

from typing import Any

from bench import tables_instances
from bench.fmt import number as _f
from bench.tables_cross import cross_section


def _met(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "**not met**")


def _run_at(runs: list[dict[str, Any]], subscribers: int) -> dict[str, Any] | None:
    for run in runs:
        if run["requested_subscribers"] == subscribers:
            return run
    return None


def _no_log(ingest: dict[str, Any], key: str = "ratios") -> str:
    """The figure against the baseline without the access log, where the run measured one."""
    value = ingest.get(key, {}).get("baseline-no-log")
    return "" if value is None else f"; {value:.2f}x against the baseline without access log"


def targets_table(results: dict[str, Any], targets: Any, prototype: Any) -> list[str]:
    s = results["scenarios"]
    rows = [
        "| figure | naive prototype | target | bridge now | peer (Flask-SocketIO) now | |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    if "ingest" in s:
        ratio, wanted = s["ingest"]["ratio"], targets["ingest_ratio"]
        rows.append(
            f"| ingest vs bare Flask | {prototype['ingest_ratio']}x | >= {wanted}x"
            f" | {ratio:.2f}x ({_f(s['ingest']['bridge_per_s'], 0)}/s vs"
            f" {_f(s['ingest']['baseline_per_s'], 0)}/s){_no_log(s['ingest'])}"
            f" | - | {_met(ratio >= wanted)} |"
        )
    lat = _run_at(s.get("latency", {}).get("runs", []), 1000)
    peer = _run_at(s.get("peer", {}).get("runs", []), 1000)
    if lat is not None:
        t = targets["latency_1000x10"]
        p = prototype["latency_1000x10"]
        ok = lat["p50_ms"] <= t["p50_ms"] and lat["p99_ms"] <= t["p99_ms"]
        peer_cell = f"p50 {_f(peer['p50_ms'])} ms, p99 {_f(peer['p99_ms'])} ms" if peer else "-"
        rows.append(
            f"| 1000 subs x 10/s | p50 {p['p50_ms']:.0f} ms, p99 {p['p99_ms']:.0f} ms"
            f" | p50 <= {t['p50_ms']:.0f} ms, p99 <= {t['p99_ms']:.0f} ms"
            f" | p50 {_f(lat['p50_ms'])} ms, p99 {_f(lat['p99_ms'])} ms | {peer_cell}"
            f" | {_met(ok)} |"
        )
    fan = s.get("fanout", {}).get("runs", [])
    if fan:
        biggest = max(fan, key=lambda r: r["subscribers"])
        ok = biggest["requested_subscribers"] >= 10000 and biggest["all_ms_median"] <= 200
        rows.append(
            f"| fan-out | 5k subs in {prototype['fanout_5k_ms']:.0f} ms (~31k deliveries/s)"
            f" | 10k subs in <= {targets['fanout_10k_ms']:.0f} ms"
            f" | {biggest['subscribers']:,} subs in {_f(biggest['all_ms_median'])} ms"
            f" ({_f(biggest['deliveries_per_s'], 0)} deliveries/s) | - | {_met(ok)} |"
        )
    if "idle" in s:
        d = s["idle"]
        ok = d["sockets"] >= 20000 and d["rss_per_socket_kb"] <= targets["idle_kb_per_socket"]
        rows.append(
            f"| idle sockets | {prototype['idle_kb_per_socket']} KB each (gevent)"
            f" | 20k at <= {targets['idle_kb_per_socket']:.0f} KB each"
            f" | {d['sockets']:,} at {_f(d['rss_per_socket_kb'])} KB each | - | {_met(ok)} |"
        )
    if lat is not None and peer is not None:
        p = prototype["peer_1000x10"]
        factor = peer["p99_ms"] / lat["p99_ms"] if lat["p99_ms"] else float("nan")
        ok = factor >= targets["peer_p99_factor"]
        rows.append(
            f"| Flask-SocketIO, 1000 subs x 10/s | p50 {p['p50_ms'] / 1000:.1f} s,"
            f" p99 {p['p99_ms'] / 1000:.1f} s | we stay >= {targets['peer_p99_factor']:.0f}x"
            f" ahead at p99 | peer p99 / bridge p99 = {_f(factor, 2)}x"
            f" | p50 {_f(peer['p50_ms'])} ms, p99 {_f(peer['p99_ms'])} ms | {_met(ok)} |"
        )
    return rows


def latency_table(runs: list[dict[str, Any]], peer_runs: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| subscribers x events/s | server | p50 ms | p90 ms | p99 ms | max ms | deliveries"
        " | lost | dup | server CPU s | server CPU µs per delivery | client CPU s | sender CPU s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    pairs = [("bridge", r) for r in runs] + [("peer", r) for r in peer_runs]
    pairs.sort(key=lambda p: (p[1]["requested_subscribers"], p[0]))
    for name, r in pairs:
        scaled = (
            f" (asked {r['requested_subscribers']:,})"
            if r["subscribers"] != r["requested_subscribers"]
            else ""
        )
        rows.append(
            f"| {r['subscribers']:,}{scaled} x {r['events_per_s']} | {name}"
            f" | {_f(r['p50_ms'])} | {_f(r['p90_ms'])} | {_f(r['p99_ms'])} | {_f(r['max_ms'])}"
            f" | {r['deliveries_received']:,} | {r['lost']} | {r['duplicates']}"
            f" | {_f(r['server_cpu_s'])} | {_f(r.get('server_cpu_us_per_delivery'))}"
            f" | {_f(r['client_cpu_s'])} | {_f(r['loadgen_cpu_s'])} |"
        )
    return rows


def sections(results: dict[str, Any], targets: Any, prototype: Any) -> list[str]:
    """Every line between the markers: the run, the targets table, a section per scenario."""
    s = results["scenarios"]
    m = results["meta"]
    out = [
        f"Measured {m['date']} at commit `{m['commit']}`"
        f"{' (with uncommitted changes in bridge/)' if m.get('dirty') else ''}"
        f" on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']},"
        f" {m['platform']}; the whole run took {m['seconds']:.0f} s.",
        "",
        f"**Noise.** Load average {', '.join(map(str, m['load_average_start']))} at the start"
        f" and {', '.join(map(str, m.get('load_average_end', [])))} at the end, for"
        f" {m['cores']} cores (the bench's own processes count once it runs): single figures"
        " can move by tens of percent between runs, and tails (p99, max) most."
        " Ratios taken in the same run (bridge vs baseline, bridge vs peer) are the steadier"
        " figures.",
        "",
        f"File limit per process: {m['nofile']:,}; sockets the bench may hold at once:"
        f" {m['socket_capacity']:,} (a scenario asking for more is scaled down and says so).",
        "",
        "## Against the targets (issue 6)",
        "",
        *targets_table(results, targets, prototype),
        "",
        "![latency per scenario, bridge vs Flask-SocketIO](performance.png)",
        "",
    ]
    if "ingest" in s:
        i = s["ingest"]
        out += [
            "## 1. Ingest: signed webhooks acknowledged per second",
            "",
            f"2 gunicorn gevent workers each; the same load generator ({i['concurrency']}"
            f" keep-alive connections, closed loop, {i['seconds_per_round']:.0f} s per round,"
            " rounds alternating) against the bridge (`POST /hooks/<endpoint>`: verify the"
            " GitHub HMAC, build the envelope, one Lua append + publish) and a bare Flask"
            " handler (`bench/baseline_app.py`: read the body, answer 202) under the"
            " bridge's gunicorn settings, access log included (`baseline`), and the same"
            " handler without the access log (`baseline-no-log`), to show what that line"
            " per request costs on its own.",
            "",
            "| server | acked/s (median of rounds) | rounds | ack p50 ms | ack p99 ms"
            " | server CPU s | server CPU ms per webhook | load generator CPU s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        rates = i.get("per_s") or {n: i[n + "_per_s"] for n in ("bridge", "baseline")}
        for name, rate in rates.items():
            rounds = i["rounds"][name]
            out.append(
                f"| {name} | {_f(rate, 0)}"
                f" | {', '.join(_f(r['acked_per_s'], 0) for r in rounds)}"
                f" | {', '.join(_f(r['ack_p50_ms']) for r in rounds)}"
                f" | {', '.join(_f(r['ack_p99_ms']) for r in rounds)}"
                f" | {', '.join(_f(r['server_cpu_s']) for r in rounds)}"
                f" | {', '.join(_f(r.get('server_ms_per_webhook'), 3) for r in rounds)}"
                f" | {', '.join(_f(r['cpu_s']) for r in rounds)} |"
            )
        out += [
            "",
            f"Ratio bridge / bare Flask: **{i['ratio']:.2f}x**"
            f" (target >= {targets['ingest_ratio']}x; issue 13 asks >= 0.6x){_no_log(i)}.",
        ]
        if "cpu_multiple" in i:
            out.append(
                f"Server CPU per acknowledged webhook, bridge / bare Flask (medians):"
                f" **{i['cpu_multiple']:.2f}x**{_no_log(i, 'cpu_multiples')}, the figure this"
                ' shared machine\'s load moves least (see below, "Worker CPU per webhook").'
            )
        out.append("")
    if "latency" in s or "peer" in s:
        runs = s.get("latency", {}).get("runs", [])
        peer_runs = s.get("peer", {}).get("runs", [])
        duration = (runs or peer_runs)[0]["window_s"]
        out += [
            "## 2 and 5. Webhook -> socket latency, bridge and Flask-SocketIO",
            "",
            "Latency = the client's receive time minus the send time the load generator wrote"
            " into the webhook body just before sending it (`time.monotonic()`, one clock for"
            " every process). It covers HTTP ingest, Redis, the worker's fan-out and the"
            " socket write. Open-loop sender at the given rate for"
            f" ~{duration:.0f} s after two warm-up events; every socket of the scenario"
            " subscribes to one channel; lost = deliveries expected for acknowledged events"
            " minus deliveries received (unique per socket).",
            "",
            *latency_table(runs, peer_runs),
            "",
        ]
        versions = s.get("peer", {}).get("versions")
        if versions:
            out += [
                "The peer: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ", under"
                " the same gunicorn settings (`bench/peer_app.py`); clients speak Engine.IO v4"
                " directly over a raw WebSocket (`/socket.io/?EIO=4&transport=websocket`), so"
                " client cost per frame is the same as for the bridge. The peer stores"
                " nothing (no stream, no resume), so it does less per event than the bridge.",
                "",
            ]
    if "fanout" in s:
        f = s["fanout"]
        out += [
            "## 3. Fan-out: one event to N subscribers",
            "",
            f"{f['open']['opened']:,} sockets open (in {f['open']['seconds']:.0f} s); one"
            ' signed webhook at a time to a channel that N of them subscribe to; "all" ='
            " last receipt minus send time (median of the repetitions after one warm-up).",
            "",
            "| subscribers | all have it, ms (median) | min-max ms | first receipt ms"
            " | deliveries/s | lost | server CPU s per event | server CPU µs per delivery |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in f["runs"]:
            cpu = sorted(x["server_cpu_s"] for x in r["reps"])[len(r["reps"]) // 2]
            out.append(
                f"| {r['subscribers']:,} | {_f(r['all_ms_median'])}"
                f" | {_f(r['all_ms_min'])}-{_f(r['all_ms_max'])} | {_f(r['first_ms_median'])}"
                f" | {_f(r['deliveries_per_s'], 0)} | {r['lost']} | {_f(cpu, 2)}"
                f" | {_f(r.get('server_cpu_us_per_delivery'))} |"
            )
        out.append("")
    if "idle" in s:
        d = s["idle"]
        workers = ", ".join(
            f"{w['established_tcp']:,} sockets, {w['rss_mb_before']:.0f} -> "
            f"{w['rss_mb_after']:.0f} MB"
            for w in d["per_worker"]
        )
        out += [
            "## 4. Idle sockets",
            "",
            "A fresh bridge (2 workers); every socket authenticates by header and subscribes"
            " to one channel, then stays idle. RSS per socket = the workers' summed RSS"
            " growth / sockets (after a few warm-up sockets opened and closed). Shutdown ="
            " SIGTERM to the gunicorn master until it and every worker exited.",
            "",
            "| sockets | RSS per socket | opening rate | shutdown | sockets told 4011"
            " | closed otherwise | clean |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            f"| {d['sockets']:,} | {_f(d['rss_per_socket_kb'])} KB"
            f" | {_f(d['open_per_s'], 0)}/s ({_f(d['open_seconds'])} s)"
            f" | {_f(d['shutdown_seconds'], 2)} s | {d['close_codes'].get('4011', 0):,}"
            f" | {d['sockets'] - d['close_codes'].get('4011', 0):,} | {d['clean']} |",
            "",
            f"Per worker: {workers}.",
            "",
        ]
    if "storm" in s:
        t = s["storm"]
        out += [
            "## 6. Reconnect storm",
            "",
            f"{t['sockets']:,} sockets, split evenly over {t.get('channels', 1)} endpoints, while"
            f" {t['webhooks']:,} webhooks flow round those endpoints at a steady rate; every"
            " socket is reset at the same moment and each comes back"
            f" after a random delay within {t['window_s']:.0f} s, subscribing with `since` ="
            " the last cursor it got (`bench/scenarios/storm.py`, `bench/reconnect.py`)."
            " Missing and duplicates are counted per client by event number, over every"
            " acknowledged webhook.",
            "",
            "| sockets | back | all live after | reconnects/s | attempts | missing | duplicates"
            " | webhooks acked | bridge CPU s | Redis CPU s (share of a core) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {t['sockets']:,} | {t['back']:,} | {_f(t['all_live_s'])} s"
            f" | {_f(t['reconnects_per_s'], 0)} | {t['attempts']:,} | {t['missing']}"
            f" | {t['duplicates']} | {t['webhooks_acked']:,}/{t['webhooks']:,}"
            f" | {_f(t['bridge_cpu_s'])} | {_f(t['redis_cpu_s'], 2)}"
            f" ({_f(100 * t['redis_cpu_share'], 0)}%) |",
            "",
        ]
    out += tables_instances.section(s)
    out += cross_section(results)
    out += [
        "## The measuring processes",
        "",
        "Load generator (`bench/loadgen.py`: raw asyncio HTTP/1.1, one write per request) and"
        " socket clients (`bench/wsclients.py`: picows on uvloop, a callback per frame, one"
        " write per client frame, TCP_NODELAY) run in their own processes; their CPU time is"
        " in the tables above (client / sender / load generator CPU). On 2 cores they compete"
        " with the server for the same cores, equally for the bridge, the baseline and the"
        " peer.",
        "",
    ]
    return out
