"""Witness policies in the C2SP tlog-policy format (https://c2sp.org/tlog-policy): which logs are
accepted, which witnesses exist, and which subsets of them (the quorum) must have cosigned a
checkpoint for a verifier to accept it.

Lines (items separated by spaces/tabs; ``#`` comments and blank lines ignored)::

    log <vkey> [<url>]                       a log verifier key (type 0x01, name = origin)
    witness <name> <vkey> [<url>]            a cosigner vkey (type 0x04, tlog-cosignature/v1)
    group <name> all|any|<k> <name>...       k of the listed witnesses/groups (defined above)
    quorum <name>|none                       exactly one

Names share one namespace, ``none`` is reserved, a group lists a member at most once and only
names defined on earlier lines, 1 <= k <= n; two logs or two witnesses with the same public key
are refused. Octets allowed: tab, newline, 0x20-0x7E, 0x80-0xFF. Errors: `WitnessError` naming the
line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from skyfence.errors import CheckpointError, WitnessError
from skyfence.governance.keys import public_key_bytes
from skyfence.governance.log.checkpoint import (
    NoteVerifier,
    parse_verifier_key,
    verify_checkpoint,
)
from skyfence.governance.witness.cosignature import (
    Cosignature,
    CosignerKey,
    cosignatures,
    parse_cosigner_vkey,
)

__all__ = ["PolicyWitness", "WitnessPolicy", "PolicyCheck", "parse_policy", "load_policy"]


@dataclass(frozen=True)
class PolicyWitness:
    """A witness of a policy: its policy name, cosigner key and optional submission URL."""

    name: str
    key: CosignerKey
    url: str | None = None


@dataclass(frozen=True)
class PolicyCheck:
    """What checking a checkpoint against a policy found: the checkpoint's origin, size and root,
    the log key names that signed it, the witnesses (by policy name) whose cosignatures verified
    with their timestamps, and whether the quorum is met."""

    origin: str
    size: int
    root_hash: bytes
    log_signers: tuple[str, ...]
    cosigned_by: Mapping[str, Cosignature]
    quorum: str
    quorum_met: bool

    def summary(self) -> str:
        names = ", ".join(sorted(self.cosigned_by)) or "none"
        return (f"checkpoint {self.origin} size {self.size}: cosigned by {names}; quorum "
                f"{self.quorum!r} {'met' if self.quorum_met else 'NOT met'}")


@dataclass
class WitnessPolicy:
    """A parsed policy."""

    logs: list[tuple[NoteVerifier, str | None]] = field(default_factory=list)
    witnesses: dict[str, PolicyWitness] = field(default_factory=dict)
    groups: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    quorum: str = "none"

    def satisfied(self, name: str, signed: set[str]) -> bool:
        """Whether witness or group `name` has witnessed, given the witnesses that `signed`."""
        if name == "none":
            return True
        if name in self.witnesses:
            return name in signed
        k, members = self.groups[name]
        return sum(self.satisfied(m, signed) for m in members) >= k

    def check(self, note_text: str | bytes, *, log_key: str | None = None) -> PolicyCheck:
        """Verify the log's signature (by a policy log, or `log_key` when the policy lists no
        log) and the witnesses' cosignatures on a checkpoint note; whether the quorum is met.
        `WitnessError` if no accepted log signed it or a listed witness's line fails to verify."""
        keys: list[str | NoteVerifier] = [v for v, _ in self.logs]
        if log_key is not None:
            keys.append(log_key)
        if not keys:
            raise WitnessError("the policy lists no log: give the log's key")
        try:
            cp = verify_checkpoint(note_text, keys)
        except CheckpointError as exc:
            raise WitnessError(f"checkpoint not signed by an accepted log: {exc}") from None
        found: dict[str, Cosignature] = {}
        for w in self.witnesses.values():
            got = cosignatures(note_text, [w.key])
            if w.key.name in got:
                found[w.name] = got[w.key.name]
        return PolicyCheck(cp.origin, cp.size, cp.root_hash, cp.signers, found, self.quorum,
                           self.satisfied(self.quorum, set(found)))

    def witness_urls(self) -> list[PolicyWitness]:
        """The witnesses that have a URL (where a log submits its checkpoints)."""
        return [w for w in self.witnesses.values() if w.url]


def _bad_octets(text: str) -> int | None:
    for i, c in enumerate(text):
        if c not in "\t\n" and (c < " " or c == "\x7f"):
            return i
    return None


def parse_policy(text: str | bytes) -> WitnessPolicy:
    """Parse a policy text (see the module docstring)."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="surrogateescape")
    bad = _bad_octets(text)
    if bad is not None:
        raise WitnessError(f"witness policy: control character {text[bad]!r} at offset {bad}")
    pol = WitnessPolicy()
    names: set[str] = set()
    log_keys: set[bytes] = set()
    witness_keys: set[bytes] = set()
    quorum: str | None = None
    for n, raw in enumerate(text.split("\n"), start=1):
        items = raw.replace("\t", " ").split()
        if not items or items[0].startswith("#"):
            continue
        where = f"witness policy line {n}"
        kind, args = items[0], items[1:]
        try:
            if kind == "log":
                if len(args) not in (1, 2):
                    raise WitnessError("expected 'log <vkey> [<url>]'")
                v = parse_verifier_key(args[0])
                raw_key = public_key_bytes(v.public_key)
                if raw_key in log_keys:
                    raise WitnessError("duplicate log key")
                log_keys.add(raw_key)
                pol.logs.append((v, args[1] if len(args) == 2 else None))
            elif kind == "witness":
                if len(args) not in (2, 3):
                    raise WitnessError("expected 'witness <name> <vkey> [<url>]'")
                name = args[0]
                _new_name(name, names)
                k = parse_cosigner_vkey(args[1])
                if k.raw in witness_keys:
                    raise WitnessError("duplicate witness key")
                witness_keys.add(k.raw)
                pol.witnesses[name] = PolicyWitness(name, k, args[2] if len(args) == 3 else None)
                names.add(name)
            elif kind == "group":
                if len(args) < 3:
                    raise WitnessError("expected 'group <name> all|any|<k> <member>...'")
                name, k_text, members = args[0], args[1], tuple(args[2:])
                _new_name(name, names)
                for m in members:
                    if m == "none" or m not in names:
                        raise WitnessError(f"group member {m!r} is not a witness or group "
                                           "defined above")
                if len(set(members)) != len(members):
                    raise WitnessError("a group lists a member more than once")
                if k_text == "all":
                    k = len(members)
                elif k_text == "any":
                    k = 1
                elif k_text.isascii() and k_text.isdigit() and not k_text.startswith("0"):
                    k = int(k_text)
                    if not 1 <= k <= len(members):
                        raise WitnessError(f"threshold {k} outside 1..{len(members)}")
                else:
                    raise WitnessError(f"threshold {k_text!r}: use all, any or a decimal k")
                pol.groups[name] = (k, members)
                names.add(name)
            elif kind == "quorum":
                if len(args) != 1:
                    raise WitnessError("expected 'quorum <name>'")
                if quorum is not None:
                    raise WitnessError("a second quorum line")
                if args[0] != "none" and args[0] not in names:
                    raise WitnessError(f"quorum {args[0]!r} is not a witness or group defined "
                                       "above")
                quorum = args[0]
            else:
                raise WitnessError(f"unknown keyword {kind!r}")
        except (WitnessError, CheckpointError) as exc:
            raise WitnessError(f"{where}: {exc}") from None
    if quorum is None:
        raise WitnessError("witness policy: no quorum line")
    pol.quorum = quorum
    return pol


def _new_name(name: str, names: set[str]) -> None:
    if name == "none":
        raise WitnessError("the name 'none' is reserved")
    if name in names:
        raise WitnessError(f"name {name!r} defined twice")


def load_policy(path: str | Path) -> WitnessPolicy:
    """Parse the policy file at `path`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise WitnessError(f"{p}: cannot read witness policy: {exc.strerror}") from None
    try:
        return parse_policy(data)
    except WitnessError as exc:
        raise WitnessError(f"{p}: {exc}") from None
