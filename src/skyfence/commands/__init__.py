"""The ``skyfence`` command line: one module per group of commands.

Each module in this package registers its commands on :data:`app` when imported;
:mod:`skyfence.cli` imports them all. Errors the user can fix are raised as
:class:`skyfence.errors.SkyfenceError` and printed without a traceback.
"""

import typer

app = typer.Typer(
    name="skyfence",
    help="Where a LEO satellite-internet service can serve, where it is allowed to, and who decided.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
