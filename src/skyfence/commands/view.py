"""``skyfence view``: the interactive page of a run, impact, latency or revisit output folder, served on this machine."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from skyfence.commands import app

console = Console(stderr=True)


@app.command()
def view(
    out_dir: Path = typer.Argument(..., help="An output folder of `skyfence run|impact|latency|revisit ... --html`."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port (0: any free port)."),
    html: bool = typer.Option(False, "--html", help="Only (re)write OUT_DIR/index.html, the self-contained page, and exit."),
) -> None:
    """Explore an output in a browser with a time slider, offline (no tiles, no network): a run
    (cells and terminals by state at each step, tracks, geofences, the served/denied/uncovered
    chart), an impact (before/after), a latency output (RTT against fibre, the paths on the map)
    or a revisit output (revisit by cell, accesses per target)."""
    from skyfence.viz.web import read_view_files, view_server, write_view

    if html:
        files = read_view_files(out_dir)
        write_view(files, out_dir, html=True)
        console.print(f"wrote {out_dir / 'index.html'}")
        return
    server = view_server(out_dir, host, port)
    h, p = server.server_address[:2]
    console.print(f"serving {out_dir} on http://{h}:{p}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
