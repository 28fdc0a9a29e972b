"""The cross-check section of docs/performance.md (issue 13 item 5): the same scenarios
measured by picows and by Node's `ws`, side by side, and what each client's own cost explains.

A run with `--cross-check` stores the Node client's runs under `node_client` in the latency,
peer and fan-out scenarios; `cross_rows()` pairs each with the picows run of the same
configuration. An older results.json has none, and `cross_section()` then renders nothing.
"""

from __future__ import annotations

from typing import Any

from bench.fmt import number as _f

# (scenario key, server label), in the order the table shows them
SCENARIOS = (("latency", "bridge"), ("peer", "peer"), ("fanout", "bridge"))


def _latency_row(run: dict[str, Any]) -> dict[str, Any]:
    received = run["deliveries_received"]
    return {
        "kind": "latency",
        "config": f"latency {run['subscribers']:,} x {run['events_per_s']}/s",
        "key": (run["requested_subscribers"], run["events_per_s"]),
        "p50": run["p50_ms"],
        "p99": run["p99_ms"],
        "max": run["max_ms"],
        "all": None,
        "lost": run["lost"],
        "dup": run["duplicates"],
        "cpu_us": run["client_cpu_s"] / received * 1e6 if received else float("nan"),
        "per_process": run["busiest_process_subscribers"],
    }


def _fanout_row(run: dict[str, Any]) -> dict[str, Any]:
    received = sum(r["received"] for r in run["reps"])
    cpu = sum(r["client_cpu_s"] for r in run["reps"])
    return {
        "kind": "fanout",
        "config": f"fan-out to {run['subscribers']:,}",
        "key": (run["requested_subscribers"],),
        "p50": None,
        "p99": None,
        "max": None,
        "all": run["all_ms_median"],
        "lost": run["lost"],
        "dup": None,  # the fan-out scenario does not store its clients' duplicate counts
        "cpu_us": cpu / received * 1e6 if received else float("nan"),
        # the fan-out's sockets open once, for its biggest size: the 5,000 of a run that also
        # has 10,000 sit in fewer processes than the 5,000 of a run that has only them
        "per_process": run["busiest_process_subscribers"],
    }


def _rows(scenario: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    row = _fanout_row if kind == "fanout" else _latency_row
    return [row(r) for r in scenario["runs"]]


def cross_rows(results: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None, dict[str, Any]]]:
    """(server, picows row or None, Node row) for every configuration the Node client ran."""
    s = results["scenarios"]
    pairs = []
    for key, server in SCENARIOS:
        if "node_client" not in s.get(key, {}):
            continue
        kind = "fanout" if key == "fanout" else "latency"
        picows = {row["key"]: row for row in _rows(s[key], kind)}
        for node in _rows(s[key]["node_client"], kind):
            pairs.append((server, picows.get(node["key"]), node))
    return pairs


def _table(pairs: list[tuple[str, dict[str, Any] | None, dict[str, Any]]]) -> list[str]:
    rows = [
        "| scenario | server | client | p50 ms | p99 ms | max ms | all have it, ms (median)"
        " | lost | dup | client CPU µs per frame | subscribers in the busiest client process |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for server, picows, node in pairs:
        for client, row in (("picows", picows), ("Node ws", node)):
            if row is None:
                continue
            rows.append(
                f"| {row['config']} | {server} | {client} | {_f(row['p50'])} | {_f(row['p99'])}"
                f" | {_f(row['max'])} | {_f(row['all'])} | {_f(row['lost'])} | {_f(row['dup'])}"
                f" | {_f(row['cpu_us'])} | {_f(row['per_process'])} |"
            )
    return rows


def _ms(frames: float, cpu_us: float) -> float:
    return frames * cpu_us / 1000


def explain(server: str, picows: dict[str, Any], node: dict[str, Any]) -> str:
    """One configuration's measured gap between the clients set against their own queues."""
    if node["kind"] == "latency":
        # the median frame of an event's burst waits behind about half the process's sockets
        ahead_node, ahead_picows = node["per_process"] / 2, picows["per_process"] / 2
        figure, measured = "p50", node["p50"] - picows["p50"]
        which = "the median frame"
    else:
        # the last frame to arrive waits behind every subscriber of its process
        ahead_node, ahead_picows = node["per_process"], picows["per_process"]
        figure, measured = '"all have it"', node["all"] - picows["all"]
        which = "the last frame"
        if node["per_process"] != picows["per_process"]:
            # the picows fan-out opened its sockets for the scenario's biggest size
            which += " (the two runs spread the subscribers over their processes differently)"
    est_node = _ms(ahead_node, node["cpu_us"])
    est_picows = _ms(ahead_picows, picows["cpu_us"])
    return (
        f"- {node['config']} on the {server}: {which} of an event waits for its client"
        f" process's work on the frames up to it (itself included): ~{ahead_node:,.0f} x"
        f" {_f(node['cpu_us'])} µs ≈ {_f(est_node)} ms with Node, ~{ahead_picows:,.0f} x"
        f" {_f(picows['cpu_us'])} µs ≈ {_f(est_picows)} ms with picows; an estimated gap of"
        f" ~{_f(est_node - est_picows)} ms, against a measured {figure} gap (Node minus"
        f" picows) of {_f(measured)} ms."
    )


def cross_section(results: dict[str, Any]) -> list[str]:
    """The section's markdown lines, or none when the run had no cross-check."""
    pairs = cross_rows(results)
    if not pairs:
        return []
    client = results["meta"].get("cross_check_client", {})
    versions = ", ".join(f"{k} {client[k]}" for k in ("node", "ws") if client.get(k))
    ran = [f"{node['config']} on the {server}" for server, _, node in pairs]
    ran_text = " and ".join([", ".join(ran[:-1]), ran[-1]] if len(ran) > 1 else ran)
    out = [
        "## Cross-check: the same scenarios with a second client",
        "",
        f"In the same run, {ran_text} ran a second time with an ordinary client:"
        f" `bench/node/client.js`, Node's `ws`{f' ({versions})' if versions else ''}, which"
        " JSON.parses every frame and takes its receive time after the parse (picows only"
        " finds the mark in the frame's bytes)."
        " Client CPU per frame = the client processes' CPU time over the measured window /"
        " the frames they received, so each client's own cost is visible; it includes"
        " whatever else the process did in that window (pings, its own wait loop).",
        "",
        *_table(pairs),
        "",
    ]
    explained = [explain(server, p, n) for server, p, n in pairs if p is not None]
    if explained:
        out += [
            "**Why the figures differ (an estimate).** One client process handles its frames"
            " one after another, so a frame that arrives with others of the same event waits"
            " for the client's own work on those ahead of it: about the number of frames ahead"
            " x the client's CPU per frame. From this run's figures:",
            "",
            *explained,
            "",
            "This holds only as far as an event's frames reach the client faster than it"
            " handles them, and the client shares the cores with the server (it may also wait"
            " for a core), so it gives the size of the effect, not an exact share; what it"
            " does not cover is not explained here. It also means that part of the latencies"
            " in this report is the measuring client's own queue (a smaller part with picows,"
            " which does less per frame).",
            "",
        ]
    return out
