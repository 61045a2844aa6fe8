"""A local 2-worker cluster per test module, and a kill -9 of one of its worker processes in the
middle of a computation (Dask's retry must give the same result)."""

from __future__ import annotations

import os
import signal

import pytest


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


class WorkerKiller:
    """``progress`` for a sharded call: the first time a task reports, one worker process (the
    lowest PID) is killed with SIGKILL; :meth:`check` then waits for the nanny's replacement and
    asserts the victim is gone."""

    def __init__(self, cluster) -> None:
        from dask.distributed import Client

        self.cluster = cluster
        with Client(cluster) as client:
            self.victim = sorted(client.run(os.getpid).values())[0]
        self.killed = False
        self.reports = 0

    def __call__(self, n: int) -> None:
        self.reports += 1
        if not self.killed:
            os.kill(self.victim, signal.SIGKILL)
            self.killed = True

    def check(self) -> None:
        from dask.distributed import Client

        assert self.killed
        with Client(self.cluster) as client:
            client.wait_for_workers(2, timeout=120)  # the restarted worker, before asking it
            assert self.victim not in client.run(os.getpid).values()


@pytest.fixture
def worker_killer(cluster):
    return WorkerKiller(cluster)
