"""``skyfence latency``: round-trip time between places over a constellation, step by step."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import typer

from skyfence.commands import app
from skyfence.errors import SkyfenceError


class _Places:
    """The ground stations of a run: a base list (``--ground`` / ``--cities``) plus places added by name or lat,lon."""

    def __init__(self, base) -> None:
        self.stations = base

    def index(self, spec: str) -> int:
        from skyfence.network.sites import SitesError, resolve_place

        spec = spec.strip()
        if not spec:
            raise SkyfenceError("an empty place name in the pairs")
        if self.stations is not None:
            try:
                return self.stations.index_of(spec)
            except SitesError:
                pass
        one = resolve_place(spec, None)
        if self.stations is None:
            self.stations = one
            return 0
        if one.names[0] in self.stations.names:  # the same place named twice
            return self.stations.names.index(one.names[0])
        self.stations = self.stations.concat(one)
        return len(self.stations) - 1


def _parse_pairs_text(text: str, source: str) -> list[tuple[str, str]]:
    out = []
    chunks = [c for c in re.split(r"[;\n]", text) if c.strip() and not c.strip().startswith("#")]
    for chunk in chunks:
        parts = chunk.split(",")
        if len(parts) == 4:  # "lat,lon,lat,lon"
            parts = [f"{parts[0]},{parts[1]}", f"{parts[2]},{parts[3]}"]
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise SkyfenceError(f"{source}: pair {chunk.strip()!r} is not 'SRC,DST' (names or ids)")
        out.append((parts[0].strip(), parts[1].strip()))
    if not out:
        raise SkyfenceError(f"{source}: no pairs given")
    return out


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
        None, "--min-elevation-deg", help="Elevation mask, deg (default 25 if no range cut-off)."
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
) -> None:
    """RTT between places over time (shortest paths over ISLs; ground stations do not relay)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from skyfence.network.latency import (
        first_epoch_utc,
        latency,
        make_time_grid,
        satellite_ecef_km,
    )
    from skyfence.network.sites import bundled_cities, bundled_gateways, read_ground_stations

    console = Console(stderr=True)
    if cities is not None and ground is not None:
        raise SkyfenceError("give --cities or --ground, not both")
    if (src is None) != (dst is None):
        raise SkyfenceError("--from and --to go together")
    n_modes = (src is not None) + (pairs is not None) + all_pairs
    if n_modes != 1:
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

    if start is not None:
        make_time_grid(start, duration, step)  # validates --start, --duration, --step early
    elif duration <= 0 or step <= 0:
        make_time_grid("2000-01-01", duration, step)

    base = None
    if ground is not None:
        base = read_ground_stations(ground)
    elif cities is not None:
        base = bundled_cities(cities)
    places = _Places(base)

    if all_pairs:
        if places.stations is None or len(places.stations) < 2:
            raise SkyfenceError("--all-pairs needs --cities or --ground with at least two stations")
        pair_idx = list(itertools.combinations(range(len(places.stations)), 2))
    else:
        if src is not None:
            named = [(src, dst)]
        elif Path(pairs).is_file():
            named = _parse_pairs_text(Path(pairs).read_text(encoding="utf-8"), str(pairs))
        else:
            named = _parse_pairs_text(pairs, "--pairs")
        pair_idx = [(places.index(a), places.index(b)) for a, b in named]
        for (a, b), (i, j) in zip(named, pair_idx, strict=True):
            if i == j:
                raise SkyfenceError(f"pair {a!r},{b!r}: source and destination are the same place")
    stations = places.stations
    relay = None
    mask_deg = min_elevation_deg
    if gateways is not None:
        from skyfence.network.sites import GATEWAY_LISTS

        gw = (
            bundled_gateways(gateways)
            if gateways in GATEWAY_LISTS
            else read_ground_stations(gateways)
        )
        relay = list(range(len(stations), len(stations) + len(gw)))
        if gateway_min_elevation_deg is not None:
            if min_elevation_deg is not None:
                users_deg = min_elevation_deg
            elif gsl_max_range_km is not None:
                users_deg = -90.0  # the range cut-off alone applies to users
            else:
                users_deg = 25.0
            mask_deg = np.concatenate(
                [np.full(len(stations), users_deg), np.full(len(gw), gateway_min_elevation_deg)]
            )
        stations = stations.concat(gw)

    from skyfence.orbits.elements import load_elements

    elems = load_elements(elements)
    if len(elems) == 0:
        raise SkyfenceError(f"--elements {elements!r}: no satellites")
    t_utc = make_time_grid(start if start is not None else first_epoch_utc(elems), duration, step)

    with console.status(f"propagating {len(elems)} satellites over {len(t_utc)} steps"):
        sat_ecef_km = satellite_ecef_km(elems, t_utc, earth_rotation=earth_rotation)
    with Progress(
        TextColumn("routing {task.completed}/{task.total} steps"),
        BarColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("routing", total=len(t_utc))
        result = latency(
            elems,
            stations,
            pair_idx,
            t_utc,
            isl=isl,
            isl_shift=isl_shift,
            max_isl_length_km=isl_max_length_km,
            max_gsl_range_km=gsl_max_range_km,
            min_elevation_deg=mask_deg,
            relay_gs=relay,
            sat_ecef_km=sat_ecef_km,
            progress=lambda _t: bar.advance(task),
        )
    if out is not None:
        result.write(out)
        summary_path = result.write_summary(out.with_name(f"{out.stem}_summary{out.suffix}"))
        console.print(
            f"wrote {len(t_utc) * len(pair_idx)} rows to {out}, per-pair summary to {summary_path}"
        )
    if plot is not None:
        result.plot(plot)
        console.print(f"wrote plot {plot}")
    summary = result.summary()
    table = Table(title=f"RTT over {len(t_utc)} steps of {step:g} s")
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
