"""``skyfence positions``: satellite positions over time as a table (Parquet or CSV); the library
call is :func:`skyfence.orbits.tables.positions`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from skyfence.commands import app
from skyfence.errors import SkyfenceError

console = Console(stderr=True)


def write_table(table, out: Path) -> None:
    """Write a pyarrow table as Parquet (``.parquet``) or CSV (``.csv``, times as ISO 8601 with Z)."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        pq.write_table(table, out)
    elif suffix == ".csv":
        for i, name in enumerate(table.column_names):
            col = table.column(i)
            if str(col.type).startswith("timestamp"):
                table = table.set_column(i, name, pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ"))
        pacsv.write_csv(table, out)
    else:
        raise SkyfenceError(f"--out {out}: use a .parquet or .csv file name")


@app.command()
def positions(
    elements: str = typer.Option("starlink", "--elements", "-e", help="Preset (starlink, starlink-gen1, starlink-550, kuiper-630, oneweb, telesat), bundled snapshot, or TLE/OMM file."),
    start: str = typer.Option("2026-04-30T00:00:00Z", help="Start time, ISO 8601 UTC."),
    duration: float = typer.Option(3600.0, help="Duration in seconds."),
    step: float = typer.Option(60.0, help="Time step in seconds."),
    frame: str = typer.Option("ecef", help="teme | ecef | lla"),
    out: Path = typer.Option(Path("positions.parquet"), help="Output .parquet or .csv"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Skip malformed element records (and report how many)."),
) -> None:
    """Propagate a constellation with SGP4 and write positions per satellite and time."""
    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.frames import time_grid
    from skyfence.orbits.propagate import SGP4_ERRORS, propagate
    from skyfence.orbits.tables import FRAMES, positions_table

    frame = frame.lower()
    if frame not in FRAMES:
        raise SkyfenceError(f"--frame {frame!r}: choose teme, ecef or lla")
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise SkyfenceError(f"--out {out}: use a .parquet or .csv file name")
    els = load_elements(elements, skip_invalid=skip_invalid)
    if els.skipped:
        console.print(f"[yellow]skipped {len(els.skipped)} invalid record(s)[/]; first: {els.skipped[0]}")
    t = time_grid(start, duration, step)
    with console.status(f"propagating {len(els)} satellites x {len(t)} steps"):
        eph = propagate(els, t)
        table = positions_table(eph, frame)
        write_table(table, out)
    counts = eph.error_counts()
    console.print(f"wrote {table.num_rows:,} rows ({len(els)} satellites x {len(t)} steps, {frame}) to {out}")
    for code, n in counts.items():
        console.print(f"[yellow]SGP4 error {code} ({SGP4_ERRORS.get(code, '?')}):[/] {n} samples, masked")
