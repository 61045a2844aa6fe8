"""Schemathesis against the governance API's OpenAPI schema (in-process ASGI, SQLite): no 5xx
for generated requests, with an operator's API key (so the handlers run past authentication),
and without credentials (401, never 5xx). Examples per operation are bounded."""

from __future__ import annotations

import atexit
import shutil
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from skyfence.api.app import create_app
from skyfence.governance import registry
from skyfence.governance import service as svc
from tests.governance.fixtures import make_plane


def _make_schema():
    # built at import (schemathesis parametrizes at collection); the temp dir goes at exit
    tmp = tempfile.mkdtemp(prefix="skyfence-st-")
    atexit.register(shutil.rmtree, tmp, True)
    p = make_plane(f"sqlite:///{tmp}/gov.db")
    registry.register_terminal(p.ledger, "op", "t1", 50.4, 30.5, status="active")
    app = create_app(p.url, p.log_key, db=p.db)
    return schemathesis.openapi.from_asgi("/openapi.json", app), p.api_keys["op"]


schema, API_KEY = _make_schema()


@pytest.fixture(autouse=True)
def _no_orbits(monkeypatch):
    """Coverage is not what is fuzzed here: a fixed satellite count keeps /service fast."""
    monkeypatch.setattr(svc, "visible_satellites", lambda *a, **k: (3, 50.0))


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    case.call_and_validate(headers={"X-API-Key": API_KEY}, checks=[not_a_server_error])
    r = case.call()  # and without credentials
    assert r.status_code < 500
