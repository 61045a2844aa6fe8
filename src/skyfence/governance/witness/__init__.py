"""Witnesses of the governance log (C2SP tlog-witness, tlog-cosignature, tlog-policy).

Modules:

* `cosignature`: Ed25519 cosignature/v1 lines, cosigner keys (vkey type 0x04), sign and verify.
* `state`: a witness's own SQLite (known logs, latest cosigned checkpoint per origin, updated by
  compare-and-swap in one transaction).
* `protocol`: the ``add-checkpoint`` request parser and the witness's decision (200/400/403/404/
  409/422) as a pure function over the state.
* `policy`: tlog-policy files (logs, witnesses, groups, quorum) and checking a cosigned checkpoint
  against one.
* `fork`: split-view detection between two checkpoints of one log.
* `client`: the log's side: submit checkpoints to witnesses, store the cosigned notes.
"""
