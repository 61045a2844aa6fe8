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



def test_funding_scenarios_run_in_one_process(capsys):
    assert main(["run", "--example", "ukraine-funding", "--workers", "2", "--duration", "600"]) == 2
    assert "[funding] scenarios run in one process" in capsys.readouterr().err
