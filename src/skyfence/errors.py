"""Errors that name what is wrong and where; the CLI prints them without a traceback."""


class SkyfenceError(Exception):
    """Base class of every error caused by user input (files, options, payloads)."""


class ElementsError(SkyfenceError):
    """A TLE / OMM / shell specification is malformed; the message names file, line and field."""


class ScenarioError(SkyfenceError):
    """A scenario file is invalid; the message names the key."""


class RegionError(SkyfenceError):
    """An unknown region name or malformed geometry."""


class SitesError(SkyfenceError):
    """A malformed ground-station file or an unknown place."""


class PolicyError(SkyfenceError):
    """An invalid Cedar policy or policy input."""


class GovernanceError(SkyfenceError):
    """A refused governance action (bad signature, no quorum, tampered log, ...)."""


class ProofError(GovernanceError):
    """A Merkle proof does not verify, or was asked for impossible tree sizes or indices."""


class CheckpointError(GovernanceError):
    """A malformed signed note, checkpoint or note key, or a note signature that does not verify."""


class KeyFormatError(GovernanceError):
    """A key file or key text that is not an Ed25519 key in a supported encoding."""


class SignatureError(GovernanceError):
    """An Ed25519 signature that does not verify."""


class VerificationError(GovernanceError):
    """An exported log failed verification; the message is the first failure."""


class EntryError(GovernanceError):
    """A log entry whose meaning is wrong (unknown kind, malformed data, a rule it breaks); the
    message names the entry."""


class QuorumError(GovernanceError):
    """An enactment without a valid quorum of distinct approvers."""


class NotFoundError(GovernanceError):
    """The named governance object does not exist (HTTP 404)."""


class ConflictError(GovernanceError):
    """A governance write conflicts with the current state, e.g. a duplicate id (HTTP 409)."""


class RefusedError(GovernanceError):
    """A governance rule refuses the action: bad signature, self-approval, expiry, limits (HTTP 403)."""


class InvalidError(GovernanceError):
    """A malformed governance payload; the message names the field (HTTP 422)."""


class WitnessError(GovernanceError):
    """A witness cosignature, witness policy or witness protocol exchange that is malformed or
    does not verify; the message names the witness or the line."""


class FundingError(SkyfenceError):
    """An invalid funding agreement or sponsor; the message names the agreement and the field."""
