"""Governance rules, free of storage: canonical bytes and times (:mod:`.canonical`), a proposal's
form and signatures (:mod:`.proposal`), quorum (:mod:`.quorum`), the policy in force
(:mod:`.in_force`), roles (:mod:`.roles`) and the log entry kinds with their checks
(:mod:`.entries`)."""
