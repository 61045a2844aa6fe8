"""Governance fixtures (`gov_url`, `plane`, ...) for every test in this folder."""

from tests.governance.fixtures import gov_url, pg_teardown, plane  # noqa: F401
