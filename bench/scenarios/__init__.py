"""The scenarios of issue 6 and 13, one module each; each module's `scenario()` runs one.

`ingest` (1), `latency` (2, and 5 on the peer), `fanout` (3), `idle` (4), `storm` (6). The
runner (bench/run.py) starts the servers and hands each scenario what it measures.
"""
