"""A latency run cut into time chunks on a local Dask cluster of 2 workers equals the
single-process run bit for bit (tables and per-pair summary); the per-pair statistics of
:func:`skyfence.scale.latency.pair_statistics` equal those of the full ``[steps, pairs]`` RTTs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skyfence.network.latency import latency
from skyfence.scale.latency import pair_statistics, time_chunks

pytest.importorskip("dask.distributed")

RUN = {"stations": "top-100", "start_utc": "2026-04-30T12:00:00Z", "duration_s": 150.0, "step_s": 1.0}
PAIRS = [(0, 1), (0, 7), (3, 12), (5, 40), (12, 3), (20, 21)]


@pytest.fixture(scope="module")
def single():
    return latency("kuiper-630", PAIRS, **RUN)


def test_two_workers_equal_one_process(single, tmp_path):
    import skyfence

    sharded = skyfence.latency("kuiper-630", PAIRS, workers=2, steps_per_shard=60, shard_dir=tmp_path, **RUN)
    assert sorted(p.name for p in tmp_path.glob("latency-t*.parquet")) == [
        "latency-t00000000-paths.parquet", "latency-t00000000.parquet", "latency-t00000060-paths.parquet",
        "latency-t00000060.parquet", "latency-t00000120-paths.parquet", "latency-t00000120.parquet",
    ]  # fmt: skip
    pd.testing.assert_frame_equal(sharded.table(), single.table(), check_exact=True)
    pd.testing.assert_frame_equal(sharded.summary(), single.summary(), check_exact=True)
    assert np.isfinite(single.rtt_ms).mean() > 0.5  # mostly connected: a meaningful comparison


def test_killed_worker_gives_the_same_latency(single, cluster, worker_killer):
    """kill -9 of one worker process once the first time chunk is done: the same tables."""
    import skyfence

    sharded = skyfence.latency("kuiper-630", PAIRS, scheduler=cluster.scheduler_address, steps_per_shard=60,
                               progress=worker_killer, **RUN)  # fmt: skip
    worker_killer.check()
    assert worker_killer.reports == 3  # every chunk reported once: none lost, none counted twice
    pd.testing.assert_frame_equal(sharded.table(), single.table(), check_exact=True)
    pd.testing.assert_frame_equal(sharded.summary(), single.summary(), check_exact=True)


def test_pair_statistics_equal_the_full_rtts(single):
    per_pair, per_step = pair_statistics("kuiper-630", PAIRS, steps_per_shard=60, **RUN)
    rtt = single.rtt_ms
    ok = np.isfinite(rtt)
    n = ok.sum(axis=0)
    assert per_pair["reachable_fraction"].tolist() == (n / rtt.shape[0]).tolist()
    assert np.allclose(per_pair["mean_rtt_ms"], np.nanmean(rtt, axis=0), rtol=1e-13, atol=0)
    assert per_pair["min_rtt_ms"].tolist() == np.nanmin(rtt, axis=0).tolist()
    assert per_pair["max_rtt_ms"].tolist() == np.nanmax(rtt, axis=0).tolist()
    srt = np.sort(rtt, axis=0)  # nearest rank: the ceil(0.95 n)-th smallest
    p95 = srt[np.ceil(0.95 * n).astype(int) - 1, np.arange(rtt.shape[1])].astype(np.float32)
    assert per_pair["p95_rtt_ms"].tolist() == p95.astype(float).tolist()
    assert per_step["pairs_connected"].tolist() == ok.sum(axis=1).tolist()
    assert np.allclose(per_step["mean_rtt_ms"], np.nanmean(rtt, axis=1), rtol=1e-13, atol=0)


def test_chunks_are_whole_tree_periods():
    assert time_chunks(150, 60, 2) == [(0, 60), (60, 120), (120, 150)]
    assert time_chunks(3600, None, 2) == [(0, 900), (900, 1800), (1800, 2700), (2700, 3600)]
    with pytest.raises(Exception, match="multiple of 60"):
        time_chunks(150, 50, 2)


def test_cli_workers_must_be_positive(capsys):
    from skyfence.cli import main

    assert main(["latency", "--elements", "kuiper-630", "--cities", "top-100", "--all-pairs", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
