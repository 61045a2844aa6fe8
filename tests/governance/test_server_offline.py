"""A server a person can start: Swagger UI at /docs from the package's own assets (no other
host: it works offline) and a landing page at /."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from skyfence.api.app import create_app
from tests.governance.fixtures import make_plane


@pytest.fixture
def client(tmp_path):
    p = make_plane(f"sqlite:///{tmp_path / 'gov.db'}")
    with TestClient(create_app(p.url, p.log_key)) as c:
        yield c
    p.db.dispose()


def test_docs_load_only_same_origin_assets(client):
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text)
    urls += re.findall(r"""url\s*:\s*["']([^"']+)["']""", r.text)
    assert any(u.endswith(".js") for u in urls) and any(u.endswith(".css") for u in urls)
    assert not re.search(r"https?://", r.text), "the page names another host"
    for u in urls:
        assert not urlsplit(u).netloc, u
        assert client.get(u).status_code == 200, u


def test_landing_page(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for link in ('href="docs"', 'href="checkpoint"', 'href="log"', 'href="policies/in-force"'):
        assert link in r.text
    assert "skyfence verify" in r.text and "skyfence receipt verify" in r.text
    assert client.get("/checkpoint").status_code == 200
