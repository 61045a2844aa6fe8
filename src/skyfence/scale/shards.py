"""The plan of a sharded run: the cells cut into blocks, the steps into chunks, one shard per
(block, chunk). The terminals ride with block 0 (every time chunk of block 0 also computes them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Shard", "ShardPlan", "plan_shards", "MAX_CELLS_PER_SHARD", "STEPS_PER_SHARD"]

#: default upper bound of cells per shard (bounds a worker's memory: counts and states are
#: ``cells x steps`` int16/int8 plus the KD-tree of the block)
MAX_CELLS_PER_SHARD = 50_000
#: default steps per shard (the single-process run's propagation chunk)
STEPS_PER_SHARD = 60


@dataclass(frozen=True)
class Shard:
    """One task: cells ``[cell_lo, cell_hi)`` over steps ``[step_lo, step_hi)``; ``terminals``
    when the shard also computes every terminal over its steps."""

    index: int
    block: int
    chunk: int
    cell_lo: int
    cell_hi: int
    step_lo: int
    step_hi: int
    terminals: bool

    @property
    def n_cells(self) -> int:
        return self.cell_hi - self.cell_lo

    @property
    def n_steps(self) -> int:
        return self.step_hi - self.step_lo

    @property
    def name(self) -> str:
        """A file stem naming the shard (``b00003-t00012``)."""
        return f"b{self.block:05d}-t{self.chunk:05d}"


@dataclass(frozen=True)
class ShardPlan:
    """Every shard of a run, ordered by block then chunk."""

    n_cells: int
    n_steps: int
    cells_per_shard: int
    steps_per_shard: int
    shards: tuple[Shard, ...]

    @property
    def n_blocks(self) -> int:
        return max(1, math.ceil(self.n_cells / self.cells_per_shard))

    @property
    def n_chunks(self) -> int:
        return math.ceil(self.n_steps / self.steps_per_shard)

    def block(self, b: int) -> list[Shard]:
        """The shards of cell block ``b`` in time order."""
        return [s for s in self.shards if s.block == b]

    def terminal_shards(self) -> list[Shard]:
        """The shards that compute the terminals, in time order."""
        return [s for s in self.shards if s.terminals]


def plan_shards(
    n_cells: int,
    n_steps: int,
    *,
    n_workers: int = 1,
    cells_per_shard: int | None = None,
    steps_per_shard: int = STEPS_PER_SHARD,
) -> ShardPlan:
    """Cut ``n_cells`` x ``n_steps`` into shards of ``steps_per_shard`` steps and
    ``cells_per_shard`` cells (default: at most :data:`MAX_CELLS_PER_SHARD`, and blocks enough for
    about four shards per worker)."""
    if n_cells < 1 or n_steps < 1:
        raise ValueError(f"a plan needs cells and steps, got {n_cells} x {n_steps}")
    steps_per_shard = max(1, min(int(steps_per_shard), n_steps))
    n_chunks = math.ceil(n_steps / steps_per_shard)
    if cells_per_shard is None:
        blocks = max(math.ceil(n_cells / MAX_CELLS_PER_SHARD), math.ceil(4 * max(1, n_workers) / n_chunks))
        cells_per_shard = math.ceil(n_cells / min(blocks, n_cells))
    cells_per_shard = max(1, min(int(cells_per_shard), n_cells))
    shards = []
    for b, lo in enumerate(range(0, n_cells, cells_per_shard)):
        for c, a in enumerate(range(0, n_steps, steps_per_shard)):
            shards.append(Shard(len(shards), b, c, lo, min(lo + cells_per_shard, n_cells), a,
                                min(a + steps_per_shard, n_steps), b == 0))  # fmt: skip
    return ShardPlan(n_cells, n_steps, cells_per_shard, steps_per_shard, tuple(shards))
