"""The log server asks its witnesses for cosignatures after every write, without waiting for them.

`WitnessCosigner(ledger, policy)` runs one daemon thread. `notify` (hooked on the ledger's
``on_grow`` listeners, so it runs after each committed write that grew the log; it only sets an
event) wakes the thread, which sends the log's latest checkpoint to every witness with a URL in
`policy` (`skyfence.governance.witness.client.Witnessing.cosign_latest`: C2SP tlog-witness
``add-checkpoint`` with the consistency proof from the size the witness last cosigned; a 409 answer
is repeated from the size it names) and stores the cosignatures, which ``GET /checkpoint`` and
receipts then carry. Requests time out after `timeout_s`. A witness that is down or refuses is
logged and asked again on the next write and every `retry_s` seconds while the latest checkpoint
lacks its cosignature; writes never wait for witnesses. `start` also submits the latest
checkpoint at once (a server restarted after writes no witness cosigned).

`policy_of_witnesses` makes the policy of ``skyfence serve --witness URL --witness-key VKEY``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import httpx

from skyfence.errors import WitnessError
from skyfence.governance.witness.client import CosignResult, Witnessing
from skyfence.governance.witness.cosignature import parse_cosigner_vkey
from skyfence.governance.witness.policy import WitnessPolicy, parse_policy

__all__ = ["WitnessCosigner", "policy_of_witnesses"]

_log = logging.getLogger(__name__)


def policy_of_witnesses(urls: Sequence[str], vkeys: Sequence[str]) -> WitnessPolicy:
    """A tlog-policy of the witnesses at submission prefixes `urls` with cosigner keys `vkeys`
    (paired in order; each witness is named by its key's name), quorum: all of them.
    `WitnessError` when the counts differ or a key does not parse."""
    if len(urls) != len(vkeys):
        raise WitnessError(f"{len(urls)} witness URL(s) but {len(vkeys)} witness key(s): give "
                           "one --witness-key per --witness, in the same order")
    if not urls:
        raise WitnessError("no witness given")
    lines = []
    for url, vkey in zip(urls, vkeys, strict=True):
        lines.append(f"witness {parse_cosigner_vkey(vkey).name} {vkey.strip()} {url.strip()}")
    names = " ".join(line.split()[1] for line in lines)
    lines += [f"group configured all {names}", "quorum configured"]
    return parse_policy("\n".join(lines) + "\n")


class WitnessCosigner:
    """Background cosigning of a `Ledger`'s checkpoints by the witnesses of `policy`.

    `rounds` counts completed submissions, `last` is the latest `CosignResult`, and
    `latencies_s` the time from the write that asked for a cosignature (the first `notify`
    since the previous complete round) to the stored cosignatures of every witness."""

    def __init__(self, ledger, policy: WitnessPolicy, *, timeout_s: float = 5.0,
                 retry_s: float = 30.0):
        self.ledger = ledger
        self.witnessing = Witnessing(ledger, policy, timeout_s=timeout_s,
                                     http=httpx.Client(timeout=timeout_s))  # kept alive
        self.retry_s = retry_s
        self.rounds = 0
        self.last: CosignResult | None = None
        self.latencies_s: list[float] = []
        self._asked: float | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None

    def notify(self, size: int | None = None) -> None:
        """Ask for cosignatures of the latest checkpoint (returns at once)."""
        if self._asked is None:
            self._asked = time.perf_counter()
        self._wake.set()

    def start(self) -> WitnessCosigner:
        """Listen to the ledger's writes, start the thread and submit the latest checkpoint."""
        if self._thread is None:
            self.ledger.on_grow.append(self.notify)
            self._thread = threading.Thread(target=self._run, name="witness-cosigner",
                                            daemon=True)
            self._thread.start()
            self.notify()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop listening and end the thread (after the round under way, if any)."""
        if self.notify in self.ledger.on_grow:
            self.ledger.on_grow.remove(self.notify)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.witnessing.http.close()

    @property
    def running(self) -> bool:
        """Whether the thread is alive (started and not stopped)."""
        return self._thread is not None and self._thread.is_alive()

    def wait_rounds(self, rounds: int, timeout_s: float) -> bool:
        """Wait until `rounds` rounds have completed; False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: self.rounds >= rounds, timeout_s)

    def _run(self) -> None:
        pending = False
        while not self._stop.is_set():
            self._wake.wait(self.retry_s if pending else None)
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                res = self.witnessing.cosign_latest()
            except Exception as exc:  # noqa: BLE001 -- logged; tried again on the next write
                _log.warning("witness cosigning failed: %s", exc)
                res = None
            else:
                for name, why in res.errors.items():
                    _log.warning("witness %s did not cosign size %d: %s", name, res.size, why)
            pending = res is None or bool(res.errors)
            with self._done:
                if not pending and self._asked is not None:
                    self.latencies_s.append(time.perf_counter() - self._asked)
                    self._asked = None
                self.last = res
                self.rounds += 1
                self._done.notify_all()
