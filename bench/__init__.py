"""The benchmark: `python -m bench.run` from the repository root (see bench/run.py).

A package so that every module, and every process the orchestrator starts
(`python -m bench.wsclients`, `python -m bench.loadgen`), imports its siblings as `bench.x`
with no path set by hand.

The orchestrator: `run.py` (the runner: servers up, scenarios in order, results written),
`config.py` (sizes, targets), `scenarios/` (one module per scenario), `clients.py` (the
socket-client processes; `start_client_process` starts one), `load.py` (load generator
jobs, single webhooks), `servers.py` (the servers under test), `procs.py` (pids: CPU, RSS,
settling), `loopback.py` (free ports, one HTTP request), `cluster.py` (a real 3-primary
Redis Cluster, also the tests'), `measure.py` (event numbers, py-spy, the log), `stats.py`,
`machine.py`; `report.py`, `tables.py`, `tables_instances.py`, `tables_cross.py`,
`fmt.py`, `chart.py` (the summary, docs/performance.md and its plot).
`cluster_pubsub.py` is a bench of its own (PUBLISH vs SPUBLISH on a Cluster).
Processes of their own: `wsclients.py` (command loop) with `wsconn.py` (sockets, both
protocols) and `reconnect.py` (the storm's drop and return); `loadgen.py`;
`baseline_app.py` and `peer_app.py` (served by gunicorn). `common.py` is what they share.
"""
