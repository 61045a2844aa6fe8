"""``skyfence revisit SCENARIO.toml`` (or ``--example NAME``): who images a place, how often, and when next.

A shell over :func:`skyfence.scale.calls.revisit` (:func:`skyfence.imaging.run.revisit` in this
process, or its targets cut into chunks on a Dask cluster with ``--workers`` / ``--scheduler``) and
:func:`~skyfence.imaging.run.write_outputs`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from skyfence.commands import app


@app.command("revisit")
def revisit_command(
    scenario: Path = typer.Argument(None, help="Revisit scenario TOML (with \\[observers] and \\[sensor] tables)."),
    example: str = typer.Option(None, "--example", help="Use a bundled revisit example: sevastopol-watch, taiwan-strait-watch."),
    out: Path = typer.Option(Path("revisit-out"), "--out", help="Output folder."),
    duration: float | None = typer.Option(None, "--duration", help="Override time.duration_s (seconds)."),
    step: float | None = typer.Option(None, "--step", help="Override time.step_s (seconds)."),
    html: bool = typer.Option(False, "--html", help="Also write OUT/index.html (revisit by cell, accesses per target) and the view data `skyfence view` serves."),
    workers: int | None = typer.Option(None, "--workers", help="Cut the targets into chunks over a local Dask cluster of N worker processes."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Cut the targets into chunks over the Dask cluster at ADDRESS (tcp://host:8786)."),
) -> None:
    """Access intervals and revisit statistics of imaging satellites over targets and cells."""
    from rich.console import Console

    from skyfence.errors import ScenarioError
    from skyfence.imaging.run import write_outputs
    from skyfence.scale.calls import revisit
    from skyfence.service.scenario import example_names, example_path

    if (scenario is None) == (example is None):
        raise ScenarioError("give a revisit scenario file or --example NAME (not both)")
    if example is not None and example not in example_names("revisit"):
        raise ScenarioError(f"unknown revisit example {example!r}; bundled: {', '.join(example_names('revisit'))}")
    result = revisit(example_path(example) if example else scenario, duration_s=duration, step_s=step, workers=workers, scheduler=scheduler)
    paths = write_outputs(result, out)
    if html:
        from skyfence.viz.web import write_view
        from skyfence.viz.web_revisit import revisit_view_files

        write_view(revisit_view_files(result), out)
        paths.append(out / "index.html")
    con = Console()
    s = result.summary
    con.print(f"{s['name']}: {s['satellites']} satellites, {s['accesses']} accesses")
    for name, t in s["targets"].items():
        rv = t["revisit_mean_s"]
        con.print(f"  {name}: {int(t['n_accesses'])} accesses, mean revisit "
                  f"{'-' if rv is None else f'{rv / 3600:.2f} h'}")
    if s["cells"].get("n"):
        con.print(f"  cells: {s['cells']['n']}, harmonic revisit {s['cells']['revisit_harmonic_h']} h, "
                  f"longest unobserved {s['cells']['max_unobserved_h_max']} h")
    for p in paths:
        con.print(f"  wrote {p}")
