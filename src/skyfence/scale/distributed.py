"""Dask for sharded runs: a local ``dask.distributed`` cluster of ``workers`` processes (one
thread each, ``memory_limit`` per worker) or a client of an existing scheduler, and the mapping of
shard tasks with progress fed by task completions.

A worker that dies mid-task (killed, out of memory) loses its running tasks; the scheduler runs
them again on another worker (``distributed.scheduler.allowed-failures`` times), and shard files
are written atomically, so the result is the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from skyfence.errors import ScenarioError

__all__ = ["WORKER_MEMORY", "dask_client", "map_tasks"]

#: memory limit of each local worker (Dask pauses, then restarts, a worker above it)
WORKER_MEMORY = "4GB"


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, *,
                memory_limit: str = WORKER_MEMORY) -> Iterator:  # fmt: skip
    """A ``dask.distributed.Client``: of the scheduler at ``scheduler`` (``tcp://host:8786``), or
    of a local cluster of ``workers`` processes, closed on exit."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ScenarioError(f"--workers/--scheduler need dask.distributed: {exc}") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise ScenarioError(f"cannot reach the Dask scheduler {scheduler!r}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    if workers is None or workers < 1:
        raise ScenarioError(f"--workers must be at least 1, got {workers}")
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                           memory_limit=memory_limit, dashboard_address=":0")  # fmt: skip
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def map_tasks(client, fn: Callable, items: Sequence, *args, weight: Callable | None = None,
              progress: Callable[[int], None] | None = None, key: str = "shard", **kwargs) -> list:  # fmt: skip
    """``[fn(item, *args, **kwargs) for item in items]`` on the cluster (or in this process when
    ``client`` is None), in the order of ``items``; ``progress(weight(item))`` as each finishes.
    Large shared arguments should be futures (``client.scatter``)."""
    if client is None:
        out = []
        for it in items:
            out.append(fn(it, *args, **kwargs))
            if progress:
                progress(weight(it) if weight else 1)
        return out
    from dask.distributed import as_completed

    futures = [client.submit(fn, it, *args, key=f"{key}-{i}-{uuid.uuid4().hex[:12]}", pure=False, **kwargs)
               for i, it in enumerate(items)]  # fmt: skip
    index = {f.key: i for i, f in enumerate(futures)}
    out: list = [None] * len(items)
    for fut in as_completed(futures):
        i = index[fut.key]
        out[i] = fut.result()  # raises the task's own exception (e.g. ScenarioError)
        if progress:
            progress(weight(items[i]) if weight else 1)
    return out

