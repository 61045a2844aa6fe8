"""Runs beyond one process: a scenario split into shards (cell blocks x time chunks), each shard
computed on its own (propagating only its own time chunk) and written to Parquet, the shards'
per-cell and per-terminal statistics then combined into the very tables and summary of a
single-process run, on a local ``dask.distributed`` cluster or an existing one.

Modules: :mod:`~skyfence.scale.shards` (the plan), :mod:`~skyfence.scale.runs` (run statistics
that combine across time chunks), :mod:`~skyfence.scale.tasks` (one shard's computation),
:mod:`~skyfence.scale.reduce` (shards -> per-cell / per-terminal statistics),
:mod:`~skyfence.scale.result` (tables, summary, files), :mod:`~skyfence.scale.distributed` (Dask),
:mod:`~skyfence.scale.engine` (``run_sharded``, ``impact_sharded``), :mod:`~skyfence.scale.calls`
(``skyfence.run`` / ``skyfence.impact``: one process by default, sharded with ``workers`` or
``scheduler``).
"""
