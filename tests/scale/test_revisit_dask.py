"""A revisit scenario whose targets are cut into chunks on a local Dask cluster of 2 workers gives
the same tables, bit for bit, and the same summary as the single-process run."""

from __future__ import annotations

import pandas as pd
import pytest

from skyfence.imaging.run import revisit
from skyfence.imaging.scenario import load_revisit_scenario
from skyfence.scale.revisit import revisit_sharded, target_chunks
from skyfence.service.scenario import example_path

distributed = pytest.importorskip("dask.distributed")


def test_target_chunks_cover_every_target_once():
    for n, w, size in ((0, 2, None), (1, 2, None), (10, 2, None), (10_001, 4, None), (25, 2, 7)):
        chunks = target_chunks(n, w, size)
        covered = [i for lo, hi in chunks for i in range(lo, hi)]
        assert covered == list(range(n))
    assert len(target_chunks(100, 2)) == 4 and max(hi - lo for lo, hi in target_chunks(25, 2, 7)) == 7


def test_revisit_on_two_workers_equals_one_process():
    # optical with a Sun limit, and an elevation sensor whose geostationary satellites are sampled
    # with a stride: both paths of the access search, in several target chunks
    sc = load_revisit_scenario(example_path("taiwan-strait-watch"))
    kw = dict(duration_s=2 * 3600.0)
    one = revisit(sc, **kw)
    done = []
    two = revisit_sharded(sc, workers=2, targets_per_shard=12, progress=done.append, **kw)
    assert len(one.accesses) > 50 and len(one.cells) > 12
    assert sum(done) == len(one.targets) + len(one.cells)
    for a, b in ((one.accesses, two.accesses), (one.targets, two.targets), (one.cells, two.cells)):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert one.summary == two.summary


def test_killed_worker_gives_the_same_revisit(cluster, worker_killer):
    """kill -9 of one worker process once the first target chunk is done: the same tables."""
    sc = load_revisit_scenario(example_path("taiwan-strait-watch"))
    kw = dict(duration_s=3600.0)
    one = revisit(sc, **kw)
    two = revisit_sharded(sc, scheduler=cluster.scheduler_address, targets_per_shard=12, progress=worker_killer, **kw)
    worker_killer.check()
    for a, b in ((one.accesses, two.accesses), (one.targets, two.targets), (one.cells, two.cells)):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert one.summary == two.summary
