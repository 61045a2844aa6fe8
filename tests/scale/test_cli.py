"""``--workers`` / ``--scheduler`` on ``skyfence run`` and ``impact``: the errors a user can fix."""

from __future__ import annotations

from skyfence.cli import main


def test_html_needs_single_process(capsys):
    assert main(["run", "--example", "ukraine-crimea", "--html", "--workers", "2"]) == 2
    assert "--html needs the single-process run" in capsys.readouterr().err


def test_sharded_impact_checks_funding_before_any_cluster(capsys):
    """An unknown sponsor is reported before a cluster starts (nothing is computed)."""
    assert main(["impact", "--example", "ukraine-crimea", "--end-funding", "x@2026-05-01T00:00:00Z",
                 "--workers", "2"]) == 2  # fmt: skip
    assert "unknown sponsor 'x'" in capsys.readouterr().err
