"""``--workers`` / ``--scheduler`` on ``skyfence run`` and ``impact``: the errors a user can fix."""

from __future__ import annotations

from skyfence.cli import main


def test_html_needs_single_process(capsys):
    assert main(["run", "--example", "ukraine-crimea", "--html", "--workers", "2"]) == 2
    assert "--html needs the single-process run" in capsys.readouterr().err


def test_sharded_impact_is_a_policy_change(capsys):
    assert main(["impact", "--example", "ukraine-crimea", "--end-funding", "x@2026-05-01T00:00:00Z",
                 "--workers", "2"]) == 2  # fmt: skip
    assert "shard a policy change" in capsys.readouterr().err

