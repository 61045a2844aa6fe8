"""``skyfence funding propose|list|report``: funding agreements in the governance log and their
cost."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from skyfence.commands import app
from skyfence.errors import GovernanceError, ScenarioError

funding_app = typer.Typer(help="Funding agreements: propose (signed by the sponsor, with the quorum's approvals), list, report.",
                          no_args_is_help=True)
app.add_typer(funding_app, name="funding")
console = Console(stderr=True)


def _load_key(path: Path):
    from skyfence.governance.keys import load_private_key

    if not Path(path).is_file():
        raise GovernanceError(f"key file not found: {path}")
    return load_private_key(Path(path))


def _agreement(path: Path) -> dict:
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"{path}: cannot read the agreement: {exc}") from None
    return data.get("agreement", data) if isinstance(data, dict) else data


@funding_app.command("propose")
def propose(
    agreement: Path = typer.Argument(..., help="The agreement (TOML/JSON table, see skyfence.funding.agreements)."),
    action: str = typer.Option("create", "--action", help="create, extend or end."),
    justification: str = typer.Option(..., "--justification", help="Why (kept in the log)."),
    sponsor_key: Path = typer.Option(..., "--sponsor-key", help="The sponsor's Ed25519 private key."),
    approval: list[str] = typer.Option(None, "--approval", help="APPROVER=KEYFILE: an approver's signature made with that key (repeat for the quorum)."),
    approvals_file: Path = typer.Option(None, "--approvals", help="JSON list of {approver, signature} collected from approvers."),
    change_file: Path = typer.Option(None, "--change", help="Submit this change document (written by --draft) instead of a new one."),
    draft: Path = typer.Option(None, "--draft", help="Only write the change document here (for approvers to sign) and stop."),
    db: str = typer.Option(None, "--db", help="Append to this governance database (local)."),
    log_key: Path = typer.Option(None, "--log-key", help="The log's signing key (with --db)."),
    server: str = typer.Option(None, "--server", help="Submit to this governance server (signed as the sponsor)."),
) -> None:
    """A funding change (create/extend/end an agreement), signed by the sponsor and the approvers;
    it enters the log only with the sponsor's signature and the quorum."""
    from skyfence.governance.funding import make_funding_change, submit_funding
    from skyfence.governance.rules.canonical import canonical_bytes
    from skyfence.governance.rules.proposal import sign_proposal

    fields = (json.loads(change_file.read_text()) if change_file else
              make_funding_change(action, _agreement(agreement), justification=justification))
    if draft is not None:
        draft.write_text(json.dumps(fields, indent=2))
        console.print(f"wrote {draft}: approvers sign its canonical bytes (skyfence funding propose --change {draft} ...)")
        return
    sponsor = fields["proposer"]
    approvals = json.loads(approvals_file.read_text()) if approvals_file else []
    for spec in approval or []:
        who, sep, key = spec.partition("=")
        if not sep:
            raise GovernanceError(f"--approval {spec!r}: expected APPROVER=KEYFILE")
        approvals.append({"approver": who, "signature": sign_proposal(_load_key(Path(key)), fields)})
    sponsor_sig = sign_proposal(_load_key(sponsor_key), fields)
    if (db is None) == (server is None):
        raise GovernanceError("give --db (local database) or --server (not both)")
    if db is not None:
        from skyfence.api.app import resolve_log_key
        from skyfence.governance.db import init_db
        from skyfence.governance.ledger import Ledger

        ledger = Ledger(init_db(db), resolve_log_key(db, str(log_key) if log_key else None))
        out = submit_funding(ledger, sponsor, fields, sponsor_sig, approvals)
    else:
        from skyfence.governance.client import Client

        body = canonical_bytes({"change": fields, "sponsor_signature": sponsor_sig, "approvals": approvals})
        client = Client(server, principal=sponsor, private_key=_load_key(sponsor_key))
        out = client.request("POST", "/funding", body).json()
    console.print(f"{out['action']} {out['agreement']}: log entry {out['log_index']}")


@funding_app.command("list")
def list_agreements(source: str = typer.Argument(..., help="Governance log: export file, SQLite database or server URL.")) -> None:
    """The funding agreements in force in a (verified) governance log, with their histories."""
    from skyfence.governance.funding import agreements_in_log

    _, agreements, history = agreements_in_log(source)
    t = Table(title=f"funding agreements in {source}")
    for col in ("id", "sponsor", "covers", "period (UTC)", "price/terminal-month", "caps", "grace", "changes"):
        t.add_column(col)
    for a in agreements:
        caps = ", ".join(x for x in (f"monthly {a.monthly_cap:,.0f}" if a.monthly_cap is not None else "",
                                      f"total {a.total_budget:,.0f}" if a.total_budget is not None else "") if x)
        t.add_row(a.id, a.sponsor, f"{a.covers} {','.join(a.target)}", f"{a.start_utc}Z .. {a.end_utc}Z",
                  f"{a.price_per_terminal_month:,.2f}", caps or "-", f"{a.grace_s / 3600:g} h",
                  " ".join(f"{h['action']}@{h['index']}" for h in history[a.id]))
    Console().print(t)


@funding_app.command("report")
def report(
    scenario: Path = typer.Argument(None, help="Scenario TOML file with a \\[funding] table."),
    example: str = typer.Option(None, "--example", help="A bundled example (e.g. ukraine-funding)."),
    log: str = typer.Option(None, "--log", help="Report from a governance log instead (its agreements and registry)."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
    start: str = typer.Option(None, "--start", help="Start (ISO 8601 UTC); required with --log."),
    duration: float = typer.Option(None, "--duration", help="Duration, seconds; required with --log."),
    step: float = typer.Option(None, "--step", help="Step, seconds; required with --log."),
) -> None:
    """Cost per sponsor per month, terminals covered, budget burn, the date a capped budget runs
    out, terminals funded by nobody: funding_*.csv (or .parquet) and funding.png."""
    from skyfence.service.funding import report as funding_report
    from skyfence.service.scenario import example_path

    if fmt not in ("csv", "parquet"):
        raise ScenarioError(f"--format: csv or parquet, got {fmt!r}")
    source = example_path(example) if example else scenario
    if source is None and log is None:
        raise ScenarioError("give a scenario file, --example NAME or --log SOURCE")
    frames = funding_report(source, log=log, start=start, duration_s=duration, step_s=step, out_dir=out, fmt=fmt)
    t = Table(title="cost per sponsor per month")
    for col in ("sponsor", "month", "cost", "terminal-months"):
        t.add_column(col, justify="left" if col in ("sponsor", "month") else "right")
    for r in frames["sponsors"].itertuples():
        t.add_row(r.sponsor, r.month.strftime("%Y-%m"), f"{r.cost:,.0f}", f"{r.terminal_months:,}")
    Console().print(t)
    ag = frames["agreements"]
    for r in ag.itertuples():
        if r.cap_binding_from is not None and str(r.cap_binding_from) != "NaT":
            console.print(f"{r.agreement}: cap leaves covered terminals unpaid from {r.cap_binding_from:%Y-%m-%d}")
        if r.budget_runs_out_utc is not None and str(r.budget_runs_out_utc) != "NaT":
            console.print(f"{r.agreement}: total budget runs out {r.budget_runs_out_utc:%Y-%m-%d}")
    console.print(f"terminals unfunded at some step: {len(frames['unfunded']):,}; outputs in {out}/: "
                  f"funding_monthly, funding_sponsors, funding_agreements, funding_unfunded (.{fmt}), funding.png")
