"""Entry point of the ``skyfence`` console script.

Imports every command module (each registers itself on :data:`skyfence.commands.app`)
and turns :class:`~skyfence.errors.SkyfenceError` into a one-line message and exit code 2.
"""

from __future__ import annotations

import importlib
import sys

from rich.console import Console

from skyfence.commands import app
from skyfence.errors import SkyfenceError

#: command modules, in the order their commands appear in ``--help``
COMMAND_MODULES = ("positions", "run", "examples", "latency", "governance", "witness", "view", "revisit", "funding")

for _name in COMMAND_MODULES:
    try:
        importlib.import_module(f"skyfence.commands.{_name}")
    except ModuleNotFoundError as exc:  # a module not written yet must not break the others
        if exc.name != f"skyfence.commands.{_name}":
            raise


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print ``error: ...`` on stderr and exit with code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except SkyfenceError as exc:
        from rich.markup import escape

        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except SystemExit as exc:  # typer/click exits (e.g. --help)
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001
        # usage errors (bad option values, unknown options) from click, or from the copy of click
        # that recent Typer versions vendor (typer._click): both have .show() and .exit_code
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            return int(exc.exit_code)
        if type(exc).__name__ == "Abort":
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
