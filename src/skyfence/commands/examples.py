"""``skyfence examples list`` and ``skyfence examples copy NAME DIR``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from skyfence.commands import app

examples_app = typer.Typer(help="The bundled example scenarios: list them, copy one to edit and run.",
                           no_args_is_help=True)  # fmt: skip
app.add_typer(examples_app, name="examples")


@examples_app.command("list")
def list_() -> None:
    """The bundled examples, with what each shows."""
    from skyfence.service.examples import list_examples

    t = Table(show_lines=True)
    t.add_column("name", style="bold")
    t.add_column("what it shows")
    for ex in list_examples():
        t.add_row(ex["name"], ex["description"])
    Console().print(t)


@examples_app.command("copy")
def copy(
    name: str = typer.Argument(..., help="Example name (see `skyfence examples list`)."),
    dest: Path = typer.Argument(..., help="Folder to copy it into (created if missing)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing scenario.toml there."),
) -> None:
    """Copy an example's scenario with its policy and data files into DEST, paths rewritten."""
    from skyfence.service.examples import copy_example
    from skyfence.service.scenario import example_names

    target = copy_example(name, dest, overwrite=overwrite)
    files = sorted(p.name for p in target.parent.iterdir())
    verb = "revisit" if name in example_names("revisit") else "run"
    Console(stderr=True).print(f"copied {name} to {target.parent}/: {', '.join(files)}\n"
                               f"run it with: skyfence {verb} {target} --out out/{name}")  # fmt: skip
