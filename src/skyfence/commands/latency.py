"""``skyfence latency``: round-trip time between places over a constellation, step by step.

A shell over :func:`skyfence.network.latency.latency`: options, progress, the summary table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from skyfence.commands import app
from skyfence.errors import SkyfenceError


def _check_options(
    *, src, dst, pairs, all_pairs, cities, ground, gateways, gsl_max_range_km, isl_max_length_km,
    min_elevation_deg, gateway_min_elevation_deg, earth_rotation, out, isl, start, duration, step,
) -> None:  # fmt: skip
    """Reject inconsistent or out-of-range options before any file is read."""
    from skyfence.network.latency import make_time_grid

    if cities is not None and ground is not None:
        raise SkyfenceError("give --cities or --ground, not both")
    if (src is None) != (dst is None):
        raise SkyfenceError("--from and --to go together")
    if (src is not None) + (pairs is not None) + all_pairs != 1:
        raise SkyfenceError("choose exactly one of --from/--to, --pairs, --all-pairs")
    if gsl_max_range_km is not None and gsl_max_range_km <= 0:
        raise SkyfenceError(f"--gsl-max-range-km must be positive, got {gsl_max_range_km}")
    if isl_max_length_km is not None and isl_max_length_km <= 0:
        raise SkyfenceError(f"--isl-max-length-km must be positive, got {isl_max_length_km}")
    if min_elevation_deg is not None and not -90.0 < min_elevation_deg < 90.0:
        raise SkyfenceError(f"--min-elevation-deg must be in (-90, 90), got {min_elevation_deg}")
    if gateway_min_elevation_deg is not None:
        if gateways is None:
            raise SkyfenceError("--gateway-min-elevation-deg needs --gateways")
        if not -90.0 < gateway_min_elevation_deg < 90.0:
            raise SkyfenceError(
                f"--gateway-min-elevation-deg must be in (-90, 90), got {gateway_min_elevation_deg}"
            )
    if earth_rotation not in ("ut1", "utc"):
        raise SkyfenceError(f"--earth-rotation {earth_rotation!r}: choose ut1 or utc")
    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise SkyfenceError(f"--out {str(out)!r}: use a .csv or .parquet file name")
    if isl not in ("plus-grid", "none") and not Path(isl).is_file():
        raise SkyfenceError(f"--isl {isl!r}: not 'plus-grid', 'none' or an existing ISL file")
    make_time_grid(start if start is not None else "2000-01-01", duration, step)


@app.command("latency")
def latency_command(
    elements: str = typer.Option(
        ...,
        "--elements",
        help="Preset (starlink, kuiper-630, ...) or TLE/OMM file (Hypatia tles.txt accepted).",
    ),
    isl: str = typer.Option(
        "plus-grid", "--isl", help="plus-grid | none | FILE of satellite pairs (Hypatia isls.txt)."
    ),
    isl_shift: int = typer.Option(
        0, "--isl-shift", help="+Grid cross-plane index shift (Hypatia's shift)."
    ),
    src: str | None = typer.Option(
        None, "--from", help="Source: city name, ground-station name/id, or 'lat,lon'."
    ),
    dst: str | None = typer.Option(
        None, "--to", help="Destination: city name, ground-station name/id, or 'lat,lon'."
    ),
    pairs: str | None = typer.Option(
        None, "--pairs", help="'A,B;C,D' (names or ids) or a FILE with one 'src,dst' per line."
    ),
    cities: str | None = typer.Option(
        None, "--cities", help="Bundled city list as ground stations: top-100 | top-1000."
    ),
    all_pairs: bool = typer.Option(
        False, "--all-pairs", help="Route every pair of the ground stations (i < j)."
    ),
    ground: Path | None = typer.Option(
        None, "--ground", help="Ground stations FILE (Hypatia basic/extended, or StarPerf XML)."
    ),
    gateways: str | None = typer.Option(
        None,
        "--gateways",
        help="Bent-pipe relays: 'starlink' (bundled) or a FILE; these stations may relay.",
    ),
    gsl_max_range_km: float | None = typer.Option(
        None,
        "--gsl-max-range-km",
        help="Ground-link slant-range cut-off, km (Hypatia max_gsl_length_m / 1000).",
    ),
    isl_max_length_km: float | None = typer.Option(
        None, "--isl-max-length-km", help="ISL length cut-off, km."
    ),
    min_elevation_deg: float | None = typer.Option(
        None, "--min-elevation-deg", help="Elevation mask, deg (default: the constellation's, e.g. Starlink 25, Kuiper 35, unless a range cut-off is given)."
    ),
    gateway_min_elevation_deg: float | None = typer.Option(
        None,
        "--gateway-min-elevation-deg",
        help="Elevation mask of the --gateways stations, deg (default: the same as the users').",
    ),
    start: str | None = typer.Option(
        None, "--start", help="Start, ISO 8601 UTC (default: earliest element epoch)."
    ),
    duration: float = typer.Option(60.0, "--duration", help="Duration, s."),
    step: float = typer.Option(1.0, "--step", help="Time step, s."),
    earth_rotation: str = typer.Option(
        "ut1",
        "--earth-rotation",
        help="ut1 (correct) or utc: GMST of UTC, ignoring UT1-UTC, as Hypatia/PyEphem do (to reproduce its numbers).",
    ),
    out: Path | None = typer.Option(None, "--out", help="Output table rtt.csv or rtt.parquet."),
    plot: Path | None = typer.Option(
        None, "--plot", help="PNG of RTT over time against the fibre RTT."
    ),
    html: bool = typer.Option(
        False, "--html", help="Also write the interactive page (index.html and view/) beside --out; `skyfence view` serves it."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Route time chunks on a local Dask cluster of N worker processes (same result)."
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Route time chunks on the Dask cluster at ADDRESS (tcp://host:8786)."
    ),
) -> None:
    """RTT between places over time (shortest paths over ISLs; ground stations do not relay)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from skyfence.network.latency import make_time_grid
    from skyfence.scale.calls import latency

    _check_options(
        src=src, dst=dst, pairs=pairs, all_pairs=all_pairs, cities=cities, ground=ground,
        gateways=gateways, gsl_max_range_km=gsl_max_range_km, isl_max_length_km=isl_max_length_km,
        min_elevation_deg=min_elevation_deg, gateway_min_elevation_deg=gateway_min_elevation_deg,
        earth_rotation=earth_rotation, out=out, isl=isl, start=start, duration=duration, step=step,
    )  # fmt: skip
    if all_pairs:
        pair_spec = None
        if cities is None and ground is None:
            raise SkyfenceError("--all-pairs needs --cities or --ground with at least two stations")
    elif src is not None:
        pair_spec = [(src, dst)]
    else:
        pair_spec = pairs
    if cities is not None:
        from skyfence.ground.cities import bundled_cities

        stations = bundled_cities(cities)
    else:
        stations = ground
    if html and out is None:
        raise SkyfenceError("--html needs --out (the page is written beside it)")
    if workers is not None and workers < 1:
        raise SkyfenceError(f"--workers must be at least 1, got {workers}")
    sharded = bool(workers or scheduler)
    n_steps = len(make_time_grid("2000-01-01", duration, step))
    console = Console(stderr=True)
    with Progress(
        TextColumn("propagating and routing: {task.completed}/{task.total} steps"),
        BarColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("routing", total=n_steps)
        result = latency(
            elements,
            pair_spec,
            stations=stations,
            gateways=gateways,
            start_utc=start,
            duration_s=duration,
            step_s=step,
            isl=isl,
            isl_shift=isl_shift,
            max_isl_length_km=isl_max_length_km,
            max_gsl_range_km=gsl_max_range_km,
            min_elevation_deg=min_elevation_deg,
            gateway_min_elevation_deg=gateway_min_elevation_deg,
            earth_rotation=earth_rotation,
            workers=workers,
            scheduler=scheduler,
            # one process: called after each step; sharded: with the steps of each finished chunk
            progress=(lambda n: bar.advance(task, n)) if sharded else (lambda _t: bar.advance(task)),
        )
    n_rows = len(result.t_utc) * len(result.src)
    if out is not None:
        result.write(out)
        summary_path = result.write_summary(out.with_name(f"{out.stem}_summary{out.suffix}"))
        console.print(f"wrote {n_rows} rows to {out}, per-pair summary to {summary_path}")
    if html:
        from skyfence.viz.web import write_view
        from skyfence.viz.web_latency import latency_view_files

        files = latency_view_files(result, elements, earth_rotation=earth_rotation, title=f"RTT over {Path(elements).name}")
        write_view(files, out.parent)
        console.print(f"wrote {out.parent / 'index.html'} (skyfence view {out.parent})")
    if plot is not None:
        result.plot(plot)
        console.print(f"wrote plot {plot}")
    summary = result.summary()
    table = Table(title=f"RTT over {len(result.t_utc)} steps of {step:g} s")
    for col in (
        "src",
        "dst",
        "min ms",
        "median ms",
        "max ms",
        "fibre ms",
        "path changes",
        "disconnected",
    ):
        table.add_column(col)
    for row in summary.head(20).itertuples():
        table.add_row(
            str(row.src),
            str(row.dst),
            f"{row.min_rtt_ms:.3f}",
            f"{row.median_rtt_ms:.3f}",
            f"{row.max_rtt_ms:.3f}",
            f"{row.fibre_rtt_ms:.3f}",
            str(row.path_changes),
            f"{100 * row.disconnected_share:.1f}%",
        )
    Console().print(table)
    if len(summary) > 20:
        Console().print(f"... {len(summary) - 20} more pairs (see --out)")
    if np.isnan(result.rtt_ms).all():
        console.print("[yellow]warning:[/] no pair was ever connected")
