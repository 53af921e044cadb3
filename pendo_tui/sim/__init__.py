"""The built-in Pendo simulator: a real HTTP server on 127.0.0.1 that speaks Pendo's
dialect, over a deterministic dataset, for tests and ``pendo-tui --demo``.

- ``dataset.Dataset`` — the simulated subscription (fixed ``now`` by default).
- ``server.Simulator`` — start/stop, ``.keys``, ``.state`` (recorded writes), ``.faults``,
  ``.large_aggregation_rows``, ``.aggregation_requires_write``; admin API under ``/_sim/``.
- ``demo`` — ``demo_simulator()`` (data dated at the current hour), ``demo_config()``,
  ``demo_secrets()``.
- ``pipeline`` — the aggregation evaluator behind ``POST /api/v1/aggregation``.
"""
