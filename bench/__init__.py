"""The benchmark: `python -m bench.run` from the repository root (see bench/run.py).

A package so that every module, and every process the orchestrator starts
(`python -m bench.wsclients`, `python -m bench.loadgen`), imports its siblings as `bench.x`
with no path set by hand.
"""
