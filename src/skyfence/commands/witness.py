"""Witness commands: ``witness init``, ``witness keys``, ``witness add-log``, ``witness serve``
(a C2SP tlog-witness with its own key and SQLite) and ``witness cosign`` (the log's side: send
the latest checkpoint to the witnesses of a tlog-policy file and store their cosignatures).
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from skyfence.commands import app
from skyfence.errors import WitnessError

console = Console()

witness_app = typer.Typer(help="Witnesses that cosign log checkpoints (C2SP tlog-witness).",
                          no_args_is_help=True)
app.add_typer(witness_app, name="witness")

DEFAULT_KEY = Path("witness.key")
DEFAULT_DB = Path("witness.db")


@witness_app.command("init")
def init(
    name: str = typer.Argument(..., help="the witness's name, e.g. witness.example.org/w1"),
    key: Path = typer.Option(DEFAULT_KEY, "--key", help="signer key file to create (mode 600)"),
    db: Path = typer.Option(DEFAULT_DB, "--db", help="the witness's SQLite database"),
) -> None:
    """Create a witness: its Ed25519 key file and its database; prints its cosigner vkey."""
    from skyfence.governance.keys import generate_private_key
    from skyfence.governance.witness.cosignature import cosigner_signer_key, cosigner_vkey
    from skyfence.governance.witness.state import WitnessState

    if key.exists():
        raise WitnessError(f"{key} exists: not overwriting a private key")
    private = generate_private_key()
    text = cosigner_signer_key(name, private)  # checks the name
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    WitnessState(db)
    console.print(f"wrote {key} and {db}\nwitness {cosigner_vkey(name, private)}", highlight=False)


@witness_app.command("keys")
def keys(key: Path = typer.Option(DEFAULT_KEY, "--key", help="the witness's key file")) -> None:
    """Print the witness's cosigner vkey (for policy files: ``witness <name> <vkey> [<url>]``)."""
    from skyfence.api.witness_app import read_witness_key
    from skyfence.governance.witness.cosignature import cosigner_vkey

    name, private = read_witness_key(key)
    typer.echo(cosigner_vkey(name, private))


@witness_app.command("add-log")
def add_log(
    vkey: str = typer.Argument(..., help="the log's verifier key (origin+hash+key, as 'serve' "
                                         "prints it) or a file holding it"),
    db: Path = typer.Option(DEFAULT_DB, "--db", help="the witness's SQLite database"),
) -> None:
    """Trust a log's key: the witness cosigns checkpoints of that origin signed by it."""
    from skyfence.governance.witness.state import WitnessState

    text = Path(vkey).read_text(encoding="utf-8").strip() if Path(vkey).is_file() else vkey
    origin = WitnessState(db).add_log(text)
    console.print(f"witness {db} knows log {origin}", highlight=False)


@witness_app.command("serve")
def serve(
    key: Path = typer.Option(DEFAULT_KEY, "--key", help="the witness's key file"),
    db: Path = typer.Option(DEFAULT_DB, "--db", help="the witness's SQLite database"),
    log: list[str] = typer.Option([], "--log", help="a log verifier key to trust; repeatable"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8100, "--port"),
) -> None:
    """Run the witness: POST /add-checkpoint, GET /<origin hash>/checkpoint."""
    import uvicorn

    from skyfence.api.witness_app import create_witness_app
    from skyfence.governance.witness.state import WitnessState

    if not key.is_file():
        raise WitnessError(f"witness key file not found: {key} (skyfence witness init)")
    state = WitnessState(db)
    for v in log:
        state.add_log(v)
    api = create_witness_app(db, key)
    console.print(f"skyfence witness on http://{host}:{port}: {api.state.witness.vkey}",
                  highlight=False)
    uvicorn.run(api, host=host, port=port, log_level="warning")


@witness_app.command("cosign")
def cosign(
    policy: Path = typer.Option(..., "--policy", help="tlog-policy file: witnesses with URLs"),
    db: str = typer.Option("governance.db", "--db", help="the governance database"),
    log_key: Path = typer.Option(..., "--log-key", help="the log's key file"),
) -> None:
    """Send the log's latest checkpoint to the policy's witnesses; store their cosignatures."""
    from skyfence.governance.db import init_db
    from skyfence.governance.keys import load_private_key
    from skyfence.governance.ledger import Ledger
    from skyfence.governance.witness.client import Witnessing
    from skyfence.governance.witness.policy import load_policy

    pol = load_policy(policy)
    if not log_key.is_file():
        raise WitnessError(f"log key file not found: {log_key}")
    ledger = Ledger(init_db(db), load_private_key(log_key))
    res = Witnessing(ledger, pol).cosign_latest()
    for name in res.cosigned_by:
        console.print(f"cosigned by {name} at size {res.size}", highlight=False)
    for name, why in res.errors.items():
        console.print(f"[red]not cosigned[/red] by {name}: {why}", highlight=False)
    met = pol.check(res.note, log_key=ledger.verifier_key).quorum_met
    console.print(f"quorum {pol.quorum!r}: {'met' if met else 'NOT met'}", highlight=False)
    if not met:
        raise WitnessError(f"quorum {pol.quorum!r} not met for size {res.size}")
