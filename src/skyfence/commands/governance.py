"""Governance commands: ``serve``, ``keys new``, ``principals add``, ``quorum``, ``propose``,
``approve``, ``verify``, ``terminals import``, ``receipt verify``.

Approvers sign on the client side: ``propose`` and ``approve`` read the private key file, sign
the proposal's canonical bytes locally and send only the signature (requests themselves are
signed with the same key), so the server never holds an approver's private key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console

from skyfence.commands import app
from skyfence.errors import GovernanceError

console = Console()

keys_app = typer.Typer(help="Ed25519 keys for approvers, operators and the log.", no_args_is_help=True)
principals_app = typer.Typer(help="Principals (run on the server; every change is logged).",
                             no_args_is_help=True)
terminals_app = typer.Typer(help="Terminal registry.", no_args_is_help=True)
receipt_app = typer.Typer(help="Service receipts.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(principals_app, name="principals")
app.add_typer(terminals_app, name="terminals")
app.add_typer(receipt_app, name="receipt")

DEFAULT_DB = "governance.db"


# --------------------------------------------------------------------------- helpers


def _load_key(path: Path):
    from skyfence.governance.keys import load_private_key

    if not Path(path).is_file():
        raise GovernanceError(f"key file not found: {path}")
    return load_private_key(Path(path))


def _client(server: str, principal: str | None, key_file: Path | None, api_key: str | None):
    """A `skyfence.governance.client.Client` for `server`, signing with the key file or using the
    API key."""
    from skyfence.governance.client import Client

    if api_key is None and (key_file is None or principal is None):
        raise GovernanceError("give --key and --as (signed requests) or --api-key")
    key = _load_key(key_file) if key_file is not None else None
    return Client(server, principal=principal, private_key=key, api_key=api_key)


# --------------------------------------------------------------------------- serve


@app.command()
def serve(
    db: str = typer.Option(DEFAULT_DB, "--db", help="SQLite path/URL or postgresql://..."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    log_key: Path | None = typer.Option(None, "--log-key",
                                        help="the log's Ed25519 key file (must exist: skyfence keys new; "
                                             "default <sqlite file>.logkey)"),
    elements: str = typer.Option("starlink", "--elements", help="satellites for coverage"),
    h3_resolution: int = typer.Option(5, "--h3-resolution", min=0, max=15,
                                      help="H3 resolution of the terminals' cells in decisions"),
) -> None:
    """Run the governance plane's REST API (OpenAPI at /docs); migrates the database first."""
    import uvicorn

    from skyfence.api.app import create_app

    api = create_app(db, log_key=str(log_key) if log_key else None, elements=elements,
                     h3_resolution=h3_resolution)
    console.print(f"skyfence governance plane on http://{host}:{port} (docs: /docs), log key "
                  f"{api.state.ledger.verifier_key}", highlight=False)
    uvicorn.run(api, host=host, port=port, log_level="warning")


# --------------------------------------------------------------------------- keys and principals


@keys_app.command("new")
def keys_new(name: str = typer.Argument(..., help="key name, e.g. your principal id"),
             out: Path = typer.Option(Path("."), "--out", help="folder for NAME.key / NAME.pub")) -> None:
    """Create an Ed25519 key pair: NAME.key (private, PEM, mode 600) and NAME.pub (hex)."""
    from skyfence.governance.keys import generate_private_key, private_key_pem, public_key_bytes

    out.mkdir(parents=True, exist_ok=True)
    priv, pub = out / f"{name}.key", out / f"{name}.pub"
    if priv.exists():
        raise GovernanceError(f"{priv} exists: not overwriting a private key")
    key = generate_private_key()
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(private_key_pem(key))
    pub.write_text(public_key_bytes(key).hex() + "\n")
    console.print(f"wrote {priv} and {pub}\npublic key: {public_key_bytes(key).hex()}", highlight=False)


def _read_pub(pubkey: str | None) -> str | None:
    if pubkey is None:
        return None
    p = Path(pubkey)
    if p.is_file():
        from skyfence.governance.keys import load_public_key, public_key_bytes

        return public_key_bytes(load_public_key(p)).hex()
    return pubkey.strip()


def _local_ledger(db: str, log_key: Path | None):
    from skyfence.api.app import resolve_log_key
    from skyfence.governance.db import init_db
    from skyfence.governance.ledger import Ledger

    database = init_db(db)
    return Ledger(database, resolve_log_key(db, str(log_key) if log_key else None))


@principals_app.command("add")
def principals_add(
    principal: str = typer.Argument(...),
    role: list[str] = typer.Option(..., "--role", help="operator, approver, auditor or viewer"),
    pubkey: str | None = typer.Option(None, "--pubkey", help="NAME.pub file or 64 hex chars"),
    api_key: bool = typer.Option(False, "--api-key", help="also create an API key and print it"),
    db: str = typer.Option(DEFAULT_DB, "--db"),
    log_key: Path | None = typer.Option(None, "--log-key"),
) -> None:
    """Add a principal on the server's database (logged as principal.added)."""
    from skyfence.governance.principals import add_api_key, add_principal

    L = _local_ledger(db, log_key)
    out = add_principal(L, "admin", principal, role, _read_pub(pubkey))
    console.print(f"added {out['id']} roles={out['roles']}", highlight=False)
    if api_key:
        console.print(f"API key: {add_api_key(L, 'admin', principal)}", highlight=False)


@app.command()
def quorum(k: int = typer.Argument(..., help="approvals needed (k of n)"),
           db: str = typer.Option(DEFAULT_DB, "--db"),
           log_key: Path | None = typer.Option(None, "--log-key")) -> None:
    """Set k, the number of distinct approvers a proposal needs (logged)."""
    _local_ledger(db, log_key).set_quorum("admin", k)
    console.print(f"quorum: {k} distinct approvers")


# --------------------------------------------------------------------------- propose / approve


@app.command()
def propose(
    cedar: Path = typer.Argument(..., help="the new service policy set (.cedar)"),
    justification: str = typer.Option(..., "--justification", "-j"),
    server: str = typer.Option("http://127.0.0.1:8000", "--server"),
    principal: str = typer.Option(..., "--as", help="your principal id"),
    key: Path = typer.Option(..., "--key", help="your private key file (NAME.key)"),
    regions: Path | None = typer.Option(None, "--regions",
                                        help="JSON or TOML file: region name -> region spec"),
    title: str = typer.Option("", "--title"),
    effective: str | None = typer.Option(None, "--effective", help="ISO UTC; default now"),
    expires: str | None = typer.Option(None, "--expires", help="ISO UTC; default in 7 days"),
    emergency: bool = typer.Option(False, "--emergency", help="needs only 2 distinct signers"),
) -> None:
    """Propose a service policy set, signed locally with your key."""
    from skyfence.governance.rules.canonical import canonical_bytes
    from skyfence.governance.rules.proposal import make_proposal, sign_proposal

    if not cedar.is_file():
        raise GovernanceError(f"policy file not found: {cedar}")
    regs = {}
    if regions is not None:
        if not regions.is_file():
            raise GovernanceError(f"regions file not found: {regions}")
        text = regions.read_text(encoding="utf-8")
        try:
            if regions.suffix.lower() == ".toml":
                import tomllib

                regs = tomllib.loads(text)
                regs = regs.get("regions", regs)
            else:
                regs = json.loads(text)
        except ValueError as exc:
            raise GovernanceError(f"{regions}: {exc}") from None
    fields = make_proposal(principal, cedar.read_text(encoding="utf-8"), justification=justification,
                           title=title, regions=regs, effective_utc=effective, expires_utc=expires,
                           emergency=emergency)
    sk = _load_key(key)
    body = canonical_bytes({"proposal": fields, "signature": sign_proposal(sk, fields)})
    r = _client(server, principal, key, None).request("POST", "/proposals", body)
    out = r.json()
    console.print(f"proposal {out['id']} (log entry {out['log_index']}, digest {out['digest']})",
                  highlight=False)


@app.command()
def approve(
    proposal_id: str = typer.Argument(...),
    server: str = typer.Option("http://127.0.0.1:8000", "--server"),
    principal: str = typer.Option(..., "--as", help="your principal id"),
    key: Path = typer.Option(..., "--key", help="your private key file (NAME.key)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not show the proposal first"),
) -> None:
    """Approve a proposal: fetch it, check its canonical bytes, sign them locally, send the signature."""
    import hashlib

    from skyfence.governance.rules.canonical import canonical_bytes
    from skyfence.governance.rules.proposal import sign_proposal

    send = _client(server, principal, key, None).request
    p = send("GET", f"/proposals/{proposal_id}").json()
    fields = p["fields"]
    data = canonical_bytes(fields)
    if data.decode("utf-8") != p["canonical"] or hashlib.sha256(data).hexdigest() != p["digest"]:
        raise GovernanceError("the server's canonical bytes do not match the proposal's fields: "
                              "not signing")
    if not yes:
        console.print(f"[bold]{fields['title'] or proposal_id}[/] by {fields['proposer']}"
                      f"{' [red](EMERGENCY)[/]' if fields['emergency'] else ''}\n"
                      f"justification: {fields['justification']}\neffective {fields['effective_utc']}, "
                      f"expires {fields['expires_utc']}\n--- policy ---\n{fields['cedar']}")
    sig = sign_proposal(_load_key(key), fields)
    out = send("POST", f"/proposals/{proposal_id}/approvals",
               canonical_bytes({"signature": sig})).json()
    state = (f"ENACTED at log entry {out['enacted_index']}" if out["enacted_index"] is not None
             else f"{out['approvals']} of {out['needed']} approvals")
    console.print(f"approved {proposal_id} (log entry {out['log_index']}): {state}", highlight=False)


# --------------------------------------------------------------------------- verify


@app.command()
def verify(
    source: str = typer.Argument(..., help="an export (JSON), a server URL, or a SQLite database"),
    older: list[str] = typer.Option([], "--older", help="an older checkpoint (file) to check "
                                    "consistency with; repeatable"),
    key: str | None = typer.Option(None, "--key", help="pin the log's verifier key (vkey text)"),
    witness_policy: Path | None = typer.Option(
        None, "--witness-policy", help="C2SP tlog-policy file: the witnessed checkpoint must be "
                                       "cosigned by its quorum"),
) -> None:
    """Verify a log offline: every entry, proof, signature and quorum, and consistency with older
    checkpoints (and witness cosignatures with --witness-policy). Exit 2 naming the first bad
    entry."""
    from skyfence.governance.audit import verify_command

    verify_command(source, older, verifier_key=key, console=console,
                   witness_policy=witness_policy)


# --------------------------------------------------------------------------- terminals, receipts


@terminals_app.command("import")
def terminals_import(
    csv_file: Path = typer.Argument(..., help="CSV with id,lat,lon[,group][,owner][,status]"),
    status: str = typer.Option("registered", "--status", help="status of rows without one"),
    server: str | None = typer.Option(None, "--server", help="import through the API"),
    principal: str | None = typer.Option(None, "--as"),
    key: Path | None = typer.Option(None, "--key"),
    api_key: str | None = typer.Option(None, "--api-key"),
    db: str = typer.Option(DEFAULT_DB, "--db", help="import into a local database (no --server)"),
    log_key: Path | None = typer.Option(None, "--log-key"),
) -> None:
    """Import terminals in ONE transaction (one log entry)."""
    if not csv_file.is_file():
        raise GovernanceError(f"CSV file not found: {csv_file}")
    if server:
        out = _client(server, principal, key, api_key).request(
            "POST", f"/terminals/import?status={status}", csv_file.read_bytes(), "text/csv").json()
    else:
        from skyfence.governance.registry import import_terminals_csv

        out = import_terminals_csv(_local_ledger(db, log_key), principal or "admin", csv_file,
                                   status=status)
    console.print(f"imported {out['count']} terminals (log entry {out['log_index']})")


@receipt_app.command("verify")
def receipt_verify(
    receipt: Path = typer.Argument(..., help="a receipt (JSON) from GET /service"),
    key: str | None = typer.Option(None, "--key", help="pin the log's verifier key"),
) -> None:
    """Verify a service receipt offline (signatures, inclusion, quorum, Cedar re-evaluation)."""
    from skyfence.governance.receipts import verify_receipt

    try:
        doc = json.loads(receipt.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GovernanceError(f"{receipt}: {exc}") from None
    for note in verify_receipt(doc, verifier_key=key):
        console.print(f"ok: {note}", highlight=False)
    console.print(f"[green]receipt verified[/]: {doc['terminal']} {doc['decision']} at {doc['at_utc']}")
