"""The governance plane, in layers (each imports only those below it).

* :mod:`.log`: the transparency log with no storage, network or rules: RFC 9162 hashing and
  proofs, the `MerkleLog` over a storage adapter, C2SP checkpoints, the export format and the
  offline verifier with semantic hooks. :mod:`.keys`: Ed25519 key encodings.
* :mod:`.rules`: canonical bytes and times, a proposal's form, quorum, the one
  `policy_in_force`, roles, and the table of log entry kinds with their checks.
* :mod:`.db` (tables), :mod:`.ledger` (the log in the database, one transaction per write),
  :mod:`.registry`, :mod:`.principals`, :mod:`.policies` (proposals, approvals, enactments).
* :mod:`.export` and :mod:`.audit` (verification with the governance checks required),
  :mod:`.client` (HTTP), :mod:`.replay` (policy in force per time step for ``skyfence run``),
  :mod:`.evaluate`, :mod:`.service` (decisions) and :mod:`.receipts`.
"""
