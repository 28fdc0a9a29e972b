"""docs/performance.png: latency per configuration, bridge and Flask-SocketIO, p50/p99/max."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = results["scenarios"]
    series = [("bridge", s.get("latency", {}).get("runs", [])), ("Flask-SocketIO", [])]
    series[1] = ("Flask-SocketIO", s.get("peer", {}).get("runs", []))
    configs = sorted(
        {(r["requested_subscribers"], r["events_per_s"]) for _, runs in series for r in runs}
    )
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    width = 0.2
    colors = {"bridge": ("#1f77b4", "#9ecae1"), "Flask-SocketIO": ("#d62728", "#fcae91")}
    for k, (name, runs) in enumerate(series):
        for j, stat in enumerate(("p50_ms", "p99_ms")):
            xs, ys, tops = [], [], []
            for i, config in enumerate(configs):
                run = next(
                    (r for r in runs if (r["requested_subscribers"], r["events_per_s"]) == config),
                    None,
                )
                if run is None:
                    continue
                xs.append(i + (k * 2 + j - 1.5) * width)
                ys.append(max(run[stat], 0.01))
                tops.append(run["max_ms"])
            label = f"{name} {stat[:3]}"
            ax.bar(xs, ys, width, label=label, color=colors[name][j], edgecolor="black", lw=0.5)
            if j == 1:
                ax.scatter(xs, tops, marker="_", s=200, color="black", zorder=3)
    if (1000, 10) in configs:
        i = configs.index((1000, 10))
        ax.hlines([10, 25], i - 0.45, i + 0.45, colors=["green", "orange"], linestyles="dashed")
        ax.text(i + 0.47, 25, "target p99", va="center", fontsize=7, color="orange")
        ax.text(i + 0.47, 10, "target p50", va="center", fontsize=7, color="green")
    ax.set_yscale("log")
    ax.set_xticks(range(len(configs)))
    ax.set_xticklabels([f"{n:,} subscribers\nx {r}/s" for n, r in configs])
    ax.set_ylabel("webhook -> socket latency, ms (log)")
    ax.set_title("Webhook -> WebSocket latency, 2 gunicorn gevent workers (bar: p50/p99, -: max)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
