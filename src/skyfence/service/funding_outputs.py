"""What a run with ``[funding]`` adds to its outputs: the ``funding`` block of ``summary.json``,
the funding columns of ``terminals.parquet`` and the funding report's files. Each is built from the
funded set and per-terminal / per-step counts, so a sharded run
(:class:`skyfence.scale.result.ShardedRun`) builds the very same ones from its shards' counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skyfence.coverage.stats import DENIED
from skyfence.orbits.frames import iso_utc
from skyfence.service.scenario import Scenario
from skyfence.service.simulate import Decisions, Ground

__all__ = ["denied_unfunded", "funding_summary", "funding_columns", "funding_lapses", "write_funding_files"]


def denied_unfunded(dec: Decisions) -> np.ndarray:
    """bool ``[n_terminal, n_time]``: denied at a step where its funding had lapsed."""
    return (dec.terminal_states == DENIED) & ~dec.funding.funded


def funding_summary(ground: Ground, fs, denied_unfunded_steps: np.ndarray, denied_unfunded_terminals: np.ndarray) -> dict:
    """The ``funding`` block of summary.json: per sponsor and agreement cost and terminals, budget
    dates, terminals unfunded at some step, and terminal-steps denied while unfunded, from the
    funded set ``fs`` and the steps each terminal was denied while unfunded
    (``denied_unfunded_steps`` ``[n_terminal]``) and the terminals so denied at each step
    (``denied_unfunded_terminals`` ``[n_time]``)."""
    from skyfence.funding.report import funding_report, summary_block

    block = summary_block(fs, funding_report(fs, [str(i) for i in ground.terminals.ids]))
    block["terminal_steps_denied_unfunded"] = int(denied_unfunded_steps.sum())
    block["terminals_denied_unfunded"] = int((denied_unfunded_steps > 0).sum())
    steps = np.flatnonzero(denied_unfunded_terminals > 0)
    block["first_denied_unfunded_utc"] = iso_utc(ground.t_utc[steps[0]]) if len(steps) else None
    block["lapses"] = funding_lapses(ground, fs)
    return block


def funding_columns(fs, denied_unfunded_steps: np.ndarray) -> dict:
    """The funding columns of ``terminals.parquet``: steps funded, steps denied while unfunded,
    the sponsors that ever pay."""
    return {"funded_steps": fs.funded.sum(axis=1).astype(np.int64),
            "denied_unfunded_steps": np.asarray(denied_unfunded_steps).astype(np.int64),
            "sponsors": [";".join(x) for x in fs.sponsors_per_terminal()]}


def write_funding_files(sc: Scenario, ground: Ground, fs, out_dir: Path) -> None:
    """The funding report's tables (and ``funding.png`` unless ``[output] plot = false``)."""
    from skyfence.funding.report import funding_report, write_report

    report = funding_report(fs, [str(i) for i in ground.terminals.ids])
    write_report(report, out_dir)
    if sc.output.get("plot", True):
        from skyfence.viz.funding import funding_over_time

        funding_over_time(out_dir / "funding.png", report["sponsors"], title=f"{sc.name}: funding by sponsor")


def funding_lapses(ground: Ground, fs) -> list[dict]:
    """Per sponsor, the terminals it paid for that later become unfunded (a funded step followed by
    an unfunded one): how many, their groups, and the first and last step at which they lose it."""
    f = fs.funded
    if f.shape[1] < 2:
        return []
    drop = f[:, :-1] & ~f[:, 1:]  # [terminal, step-1]: funded at k-1, unfunded at k
    groups = np.array([";".join(g) for g in ground.terminals.groups], dtype=object)
    out = []
    for j, name in enumerate(fs.sponsors):
        # paid by this sponsor at some step up to the one before the drop
        before = np.maximum.accumulate(fs.paid_by(j), axis=1)[:, fs.segment_of_step[:-1]]
        hit = drop & before
        rows = hit.any(axis=1)
        if not rows.any():
            continue
        k = np.flatnonzero(hit.any(axis=0)) + 1
        out.append({"sponsor": name, "terminals": int(rows.sum()),
                    "groups": sorted(set(groups[rows].tolist())),
                    "first_unfunded_utc": iso_utc(ground.t_utc[k[0]]),
                    "last_unfunded_utc": iso_utc(ground.t_utc[k[-1]])})
    return out
