"""Governance commands: ``serve``, ``keys new``, ``init draft|sign|create``, ``propose``,
``membership propose``, ``approve``, ``verify``, ``terminals import``, ``receipt verify``.

A governance log starts with its genesis, in three steps: ``skyfence init draft`` writes the
unsigned genesis document (founders with roles and public keys, the quorums, the log's key)
to a JSON file; each founder adds a signature with ``skyfence init sign FILE --key NAME.key``
(on their own machine; the founder is found by the key); ``skyfence init create FILE`` checks
every founder's signature and writes the genesis as the log's first entry. From then on,
membership (principals, roles, keys, API keys, quorums, the log's key) changes only by a
membership proposal (``skyfence membership propose``) that a quorum approves; no local command
changes it.

Approvers sign on the client side: ``propose`` and ``approve`` read the private key file, sign
the proposal's canonical bytes locally and send only the signature (requests themselves are
signed with the same key), so the server never holds an approver's private key.

Size: over 400 lines because every command of the governance plane (each a thin shell over the
library) shares the key, client and public-key helpers here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console

from skyfence.commands import app
from skyfence.errors import GovernanceError

console = Console()

keys_app = typer.Typer(help="Ed25519 keys for approvers, operators and the log.", no_args_is_help=True)
init_app = typer.Typer(help="Start a governance log: its genesis, signed by every founder.",
                       no_args_is_help=True)
membership_app = typer.Typer(help="Membership changes (proposals a quorum must approve).",
                             no_args_is_help=True)
terminals_app = typer.Typer(help="Terminal registry.", no_args_is_help=True)
receipt_app = typer.Typer(help="Service receipts.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(init_app, name="init")
app.add_typer(membership_app, name="membership")
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
    witness: list[str] = typer.Option([], "--witness", help="a witness's add-checkpoint URL "
                                      "prefix, asked to cosign every checkpoint; repeatable"),
    witness_key: list[str] = typer.Option([], "--witness-key", help="that witness's cosigner "
                                          "vkey (one per --witness, same order)"),
    witness_policy: Path | None = typer.Option(None, "--witness-policy", help="a tlog-policy "
                                               "file: its witnesses with a URL are asked"),
) -> None:
    """Run the governance plane's REST API (OpenAPI at /docs); migrates the database first.
    With witnesses, each new checkpoint is sent to them in the background (C2SP tlog-witness)
    and their cosignatures are served on /checkpoint and in receipts."""
    import uvicorn

    from skyfence.api.app import create_app
    from skyfence.governance.witness.background import policy_of_witnesses
    from skyfence.governance.witness.policy import load_policy

    pol = load_policy(witness_policy) if witness_policy else None
    if witness or witness_key:
        if pol is not None:
            raise GovernanceError("give --witness/--witness-key or --witness-policy, not both")
        pol = policy_of_witnesses(witness, witness_key)
    api = create_app(db, log_key=str(log_key) if log_key else None, elements=elements,
                     h3_resolution=h3_resolution, witness_policy=pol)
    if api.state.ledger.size() == 0:
        raise GovernanceError(f"{db}: no governance log yet: start it with skyfence init "
                              "(draft, sign, create)")
    console.print(f"skyfence governance plane on http://{host}:{port} (docs: /docs), log key "
                  f"{api.state.ledger.verifier_key}", highlight=False)
    # httptools parser and uvloop (dependencies; uvloop is not on Windows), no access log: the
    # per-request cost of GET /service is what the decision service is sized by
    uvicorn.run(api, host=host, port=port, log_level="warning", access_log=False,
                http="httptools", loop="uvloop" if sys.platform != "win32" else "auto")


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


def _founder(spec: str) -> dict:
    """ID:ROLE[,ROLE...]:PUBKEY (a NAME.pub file or 64 hex chars)."""
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise GovernanceError(f"--founder {spec!r}: give ID:ROLES:PUBKEY, e.g. bob:approver:keys/bob.pub")
    return {"id": parts[0], "roles": parts[1].split(","), "public_key": _read_pub(parts[2])}


def _read_genesis(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GovernanceError(f"{path}: cannot read the genesis: {exc}") from None
    if not isinstance(doc, dict):
        raise GovernanceError(f"{path}: not a genesis document")
    return doc


@init_app.command("draft")
def init_draft(
    out: Path = typer.Argument(..., help="the genesis file to write (JSON)"),
    founder: list[str] = typer.Option(..., "--founder",
                                      help="ID:ROLES:PUBKEY, e.g. bob:approver:keys/bob.pub; "
                                           "repeat for each founder"),
    log_key: Path = typer.Option(..., "--log-key", help="the log's key file (skyfence keys new)"),
    quorum: int = typer.Option(2, "--quorum", help="approvals a policy needs (k)"),
    membership_quorum: int | None = typer.Option(
        None, "--membership-quorum", help="approvals a membership change needs (default k)"),
    emergency: int = typer.Option(1, "--emergency",
                                  help="approvals an emergency policy needs (>= 1)"),
    origin: str | None = typer.Option(None, "--origin", help="the log's origin line"),
) -> None:
    """Write the unsigned genesis: founders, roles, keys, quorums and the log's key."""
    from skyfence.governance.ledger import DEFAULT_ORIGIN
    from skyfence.governance.log.checkpoint import verifier_key
    from skyfence.governance.rules.membership import make_genesis

    origin = origin or DEFAULT_ORIGIN
    doc = make_genesis(origin, verifier_key(origin, _load_key(log_key)),
                       [_founder(f) for f in founder], quorum=quorum,
                       membership_quorum=membership_quorum, emergency=emergency)
    if out.exists():
        raise GovernanceError(f"{out} exists: not overwriting a genesis")
    out.write_text(json.dumps({**doc, "signatures": {}}, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {out}: {len(doc['principals'])} founder(s) must each sign it "
                  "(skyfence init sign)", highlight=False)


@init_app.command("sign")
def init_sign(
    genesis: Path = typer.Argument(..., help="the genesis file (from skyfence init draft)"),
    key: list[Path] = typer.Option(..., "--key", help="a founder's private key file; repeatable"),
) -> None:
    """Add founders' signatures to the genesis file (each founder found by the key)."""
    from skyfence.governance.keys import public_key_bytes
    from skyfence.governance.rules.membership import genesis_message, validate_genesis

    doc = _read_genesis(genesis)
    body = validate_genesis(doc)
    sigs = dict(doc.get("signatures") or {})
    for path in key:
        sk = _load_key(path)
        pub = public_key_bytes(sk).hex()
        who = next((p["id"] for p in body["principals"] if p["public_key"] == pub), None)
        if who is None:
            raise GovernanceError(f"{path}: not the key of any founder in {genesis}")
        sigs[who] = sk.sign(genesis_message(body)).hex()
        console.print(f"signed as {who}", highlight=False)
    genesis.write_text(json.dumps({**body, "signatures": sigs}, indent=2) + "\n",
                       encoding="utf-8")
    missing = [p["id"] for p in body["principals"] if p["id"] not in sigs]
    if missing:
        console.print(f"still to sign: {', '.join(missing)}", highlight=False)


@init_app.command("create")
def init_create(
    genesis: Path = typer.Argument(..., help="the genesis file signed by every founder"),
    db: str = typer.Option(DEFAULT_DB, "--db", help="SQLite path/URL or postgresql://..."),
    log_key: Path | None = typer.Option(None, "--log-key", help="the log's key file"),
) -> None:
    """Create the governance log: its first entry is the genesis (every signature checked)."""
    from skyfence.api.app import resolve_log_key
    from skyfence.governance.db import init_db
    from skyfence.governance.ledger import Ledger

    doc = _read_genesis(genesis)
    key = resolve_log_key(db, str(log_key) if log_key else None)
    ledger = Ledger(init_db(db), key, origin=doc.get("origin"))
    ledger.genesis({k: v for k, v in doc.items() if k != "signatures"},
                   doc.get("signatures") or {})
    console.print(f"governance log created: {len(doc['principals'])} founder(s), quorum "
                  f"{doc['quorum']['policy']} (membership {doc['quorum']['membership']}, "
                  f"emergency {doc['quorum']['emergency']}); log key {ledger.verifier_key}",
                  highlight=False)


@membership_app.command("propose")
def membership_propose(
    changes: Path | None = typer.Argument(None, help="JSON file: a list of changes (see "
                                                     "skyfence.governance.rules.membership)"),
    add: list[str] = typer.Option([], "--add", help="ID:ROLES[:PUBKEY] a new principal"),
    remove: list[str] = typer.Option([], "--remove", help="ID: remove a principal"),
    quorum: int | None = typer.Option(None, "--quorum", help="new policy quorum k"),
    membership_quorum: int | None = typer.Option(
        None, "--membership-quorum", help="new membership quorum m (default: max(m, k))"),
    emergency: int | None = typer.Option(None, "--emergency"),
    justification: str = typer.Option(..., "--justification", "-j"),
    server: str = typer.Option("http://127.0.0.1:8000", "--server"),
    principal: str = typer.Option(..., "--as", help="your principal id"),
    key: Path = typer.Option(..., "--key", help="your private key file (NAME.key)"),
) -> None:
    """Propose a membership change, signed locally; it needs the membership quorum."""
    from skyfence.governance.rules.canonical import canonical_bytes
    from skyfence.governance.rules.proposal import make_membership_proposal, sign_proposal

    items: list[dict] = []
    if changes is not None:
        try:
            items = json.loads(changes.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GovernanceError(f"{changes}: {exc}") from None
    for spec in add:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise GovernanceError(f"--add {spec!r}: give ID:ROLES[:PUBKEY]")
        items.append({"op": "add", "id": parts[0], "roles": sorted(set(parts[1].split(","))),
                      "public_key": _read_pub(parts[2]) if len(parts) == 3 else None,
                      "api_keys": []})
    items += [{"op": "remove", "id": r} for r in remove]
    if (quorum, membership_quorum, emergency) != (None, None, None):
        cur = _client(server, principal, key, None).request("GET", "/quorum").json()
        policy = quorum or cur["policy"]
        items.append({"op": "quorum", "policy": policy,
                      "membership": membership_quorum or max(cur["membership"], policy),
                      "emergency": emergency or cur["emergency"]})
    fields = make_membership_proposal(principal, items, justification=justification)
    body = canonical_bytes({"proposal": fields, "signature": sign_proposal(_load_key(key), fields)})
    out = _client(server, principal, key, None).request("POST", "/proposals", body).json()
    console.print(f"proposal {out['id']} (log entry {out['log_index']}, digest {out['digest']})",
                  highlight=False)


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
        what = (f"--- membership changes ---\n{json.dumps(fields['changes'], indent=2)}"
                if "changes" in fields else f"--- policy ---\n{fields['cedar']}")
        console.print(f"[bold]{fields['title'] or proposal_id}[/] by {fields['proposer']}"
                      f"{' [red](EMERGENCY)[/]' if fields['emergency'] else ''}\n"
                      f"justification: {fields['justification']}\neffective {fields['effective_utc']}, "
                      f"expires {fields['expires_utc']}\n{what}")
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
    witness_policy: Path | None = typer.Option(
        None, "--witness-policy", help="a C2SP tlog-policy file: the receipt's witnessed "
        "checkpoint (and with --fresh the current one) must be cosigned by its quorum"),
    fresh: str | None = typer.Option(
        None, "--fresh", help="the log's URL: also check that no later entry up to its current "
        "checkpoint changes the decision"),
) -> None:
    """Verify a service receipt offline (signatures, inclusion, quorum, Cedar re-evaluation,
    witnessed checkpoint) and, with --fresh URL, that it is still fresh."""
    from skyfence.governance.freshness import check_fresh
    from skyfence.governance.receipts import verify_receipt
    from skyfence.governance.witness.policy import load_policy

    try:
        doc = json.loads(receipt.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GovernanceError(f"{receipt}: {exc}") from None
    policy = None if witness_policy is None else load_policy(witness_policy)
    notes = verify_receipt(doc, verifier_key=key, witness_policy=policy)
    if fresh is not None:
        notes += check_fresh(doc, fresh, verifier_key=key, witness_policy=policy)
    for note in notes:
        console.print(f"ok: {note}", highlight=False)
    console.print(f"[green]receipt verified[/]: {doc['terminal']} {doc['decision']} at {doc['at_utc']}")
