"""``skyfence run`` and ``skyfence impact``: the service analysis of a scenario."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from skyfence.commands import app
from skyfence.errors import ScenarioError

console = Console(stderr=True)


class _StepsBar:
    """A progress bar over time steps, shown only once every input has been read and validated
    (``on_total``), so that an input error prints one line and nothing else."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console, transient=False)  # fmt: skip
        self.task = None

    def on_total(self, n: int) -> None:
        self.bar.start()
        self.task = self.bar.add_task(self.description, total=n)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, n)

    def __enter__(self) -> _StepsBar:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()


_START = typer.Option(None, "--start", help="Override the scenario's start time (ISO 8601 UTC).")
_DURATION = typer.Option(None, "--duration", help="Override the scenario's duration, seconds.")
_STEP = typer.Option(None, "--step", help="Override the scenario's time step, seconds.")
_WORKERS = typer.Option(None, "--workers", help="Shard the run over a local Dask cluster of N worker processes.")
_SCHEDULER = typer.Option(None, "--scheduler", help="Shard the run over the Dask cluster at ADDRESS (tcp://host:8786).")


def _source(path: Path | None, example: str | None) -> Path:
    from skyfence.service.scenario import example_path

    if (path is None) == (example is None):
        raise ScenarioError("give a scenario file or --example NAME (not both)")
    return example_path(example) if example else path


@app.command()
def run(
    scenario: Path = typer.Argument(None, help="Scenario TOML file (see README for the schema)."),
    example: str = typer.Option(None, "--example", help="Run a bundled example: ukraine-crimea, taiwan-withheld, terminal-donation."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    start: str = _START,
    duration: float = _DURATION,
    step: float = _STEP,
    html: bool = typer.Option(False, "--html", help="Also write index.html (a self-contained page: open it in a browser) and the view data `skyfence view` serves."),
    workers: int = _WORKERS,
    scheduler: str = _SCHEDULER,
) -> None:
    """Coverage AND policy for every H3 cell and terminal at every step: served, denied, uncovered."""
    from skyfence.scale.calls import run as run_service

    if html and (workers or scheduler):
        raise ScenarioError("--html needs the single-process run (leave out --workers/--scheduler)")
    with _StepsBar("propagate + visibility") as bar:
        result = run_service(_source(scenario, example), start=start, duration_s=duration, step_s=step,
                             progress=bar.advance, on_total=bar.on_total, workers=workers, scheduler=scheduler)  # fmt: skip
    summary = result.write(out)
    if html:
        from skyfence.viz.web import run_view_files, write_view

        write_view(run_view_files(result), out)
    sc, ground = result.scenario, result.ground
    for w in summary["policy"]["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")
    t = Table(title=f"{sc.name}: {summary['cells']:,} cells x {summary['time']['steps']} steps, {ground.n_sat:,} satellites")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k in ("covered_fraction", "served_fraction", "denied_fraction"):
        t.add_row(k, f"{summary[k]:.4f}")
    tm = summary["terminals"]
    t.add_row("terminals", f"{tm['count']:,}")
    t.add_row("terminals ever denied", f"{tm['ever_denied']:,}")
    Console().print(t)
    files = ["summary.json", "cells.parquet", "terminals.parquet"]
    files += ["terminal_states.parquet"] if sc.output.get("timeline") else []
    files += ["map.png"] if sc.output.get("map", True) else []
    files += ["terminals.png"] if tm["count"] and sc.output.get("plot", True) else []
    if "funding" in summary:  # the funding report (service.funding_outputs.write_funding_files)
        files += ["funding_*.csv"] + (["funding.png"] if sc.output.get("plot", True) else [])
    files += ["index.html", "view/"] if html else []
    console.print(f"outputs in {out}/: {' '.join(files)}")


@app.command()
def impact(
    scenario: Path = typer.Argument(None, help="Scenario TOML file."),
    policy: list[Path] = typer.Option(None, "--policy", help="The new Cedar policy file(s), or a bundled policy's name (e.g. allow-all)."),
    end_funding: list[str] = typer.Option(None, "--end-funding", help="SPONSOR@DATE: every agreement of SPONSOR ends at DATE (UTC)."),
    add_funding: list[Path] = typer.Option(None, "--add-funding", help="A funding file (TOML/JSON: sponsors, agreements) to add."),
    example: str = typer.Option(None, "--example", help="Use a bundled example as the scenario."),
    out: Path = typer.Option(None, "--out", "-o", help="Write impact.json here."),
    start: str = _START,
    duration: float = _DURATION,
    step: float = _STEP,
    html: bool = typer.Option(False, "--html", help="Also write OUT/index.html (before/after page) and the view data `skyfence view` serves."),
    workers: int = _WORKERS,
    scheduler: str = _SCHEDULER,
) -> None:
    """What a policy or funding change does versus the scenario as it stands: terminals, cells, km2
    and people newly denied or restored, and when; with funding changes, the monthly cost saved or
    added per sponsor."""
    from skyfence.scale.calls import impact as impact_of
    from skyfence.service.run import impact as impact_single

    if html and (out is None or workers or scheduler):
        raise ScenarioError("--html needs --out and the single-process impact (leave out --workers/--scheduler)")
    decided: dict = {}  # the ground and both decisions, for the page
    with _StepsBar("impact") as bar:
        args = dict(end_funding=end_funding or (), add_funding=add_funding or (), start=start, duration_s=duration,
                    step_s=step, progress=bar.advance, on_total=bar.on_total)  # fmt: skip
        if html:
            report = impact_single(_source(scenario, example), policy or None, **args,
                                   on_decided=lambda *gd: decided.update(dec=gd))  # fmt: skip
        else:
            report = impact_of(_source(scenario, example), policy or None, **args, workers=workers, scheduler=scheduler)
    change = [p.name for p in policy or []] + [f"end {x}" for x in end_funding or []] + \
        [f"add {p.name}" for p in add_funding or []]
    t = Table(title=f"{report['scenario']}: {', '.join(change)} vs current")
    t.add_column("")
    t.add_column("newly denied", justify="right")
    t.add_column("restored", justify="right")
    nd, rs = report["newly_denied"], report["restored"]
    for k, fmt in (("terminals", "{:,}"), ("cells", "{:,}"), ("area_km2", "{:,.0f}"), ("people", "{:,.0f}")):
        t.add_row(k, fmt.format(nd[k]), fmt.format(rs[k]))
    if "terminal_cells" in nd:
        for k, fmt in (("cells", "{:,}"), ("area_km2", "{:,.0f}"), ("people", "{:,.0f}")):
            t.add_row(f"terminals' {k}", fmt.format(nd["terminal_cells"][k]), fmt.format(rs["terminal_cells"][k]))
    t.add_row("first change (UTC)", str(nd["first_utc"]), str(rs["first_utc"]))
    Console().print(t)
    if "funding" in report:
        f = report["funding"]
        ft = Table(title="monthly cost per sponsor")
        for col in ("sponsor", "month", "before", "after", "change"):
            ft.add_column(col, justify="left" if col in ("sponsor", "month") else "right")
        for r in f["monthly_cost"]:
            if r["cost_before"] or r["cost_after"]:
                ft.add_row(r["sponsor"], r["month"], f"{r['cost_before']:,.0f}", f"{r['cost_after']:,.0f}",
                           f"{r['change']:+,.0f}")
        Console().print(ft)
        console.print(f"cost saved {f['cost_saved']:,.0f}, cost added {f['cost_added']:,.0f}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "impact.json").write_text(json.dumps(report, indent=2))
        console.print(f"wrote {out / 'impact.json'}")
    if html:
        from skyfence.viz.web import write_view
        from skyfence.viz.web_impact import impact_view_files

        write_view(impact_view_files(report, *decided["dec"]), out)
        console.print(f"wrote {out / 'index.html'} (skyfence view {out})")
