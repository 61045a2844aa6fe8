"""Errors that name what is wrong and where; the CLI prints them without a traceback."""


class SkyfenceError(Exception):
    """Base class of every error caused by user input (files, options, payloads)."""


class ElementsError(SkyfenceError):
    """A TLE / OMM / shell specification is malformed; the message names file, line and field."""


class ScenarioError(SkyfenceError):
    """A scenario file is invalid; the message names the key."""


class RegionError(SkyfenceError):
    """An unknown region name or malformed geometry."""


class PolicyError(SkyfenceError):
    """An invalid Cedar policy or policy input."""


class GovernanceError(SkyfenceError):
    """A refused governance action (bad signature, no quorum, tampered log, ...)."""
