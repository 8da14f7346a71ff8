"""bench.statement_cost, bench.email_cost and bench.sender_cost run end to end (small):
every step prints its cost."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import email_cost, sender_cost, statement_cost


def _costs(out: str, unit: str) -> list[float]:
    return [float(line.split()[0]) for line in out.splitlines() if f" {unit} " in line]


def test_every_statement_path_is_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--statements", "40", "--rounds", "1", "--data-dir", str(tmp_path / "pg")]
    assert statement_cost.main(args) == 0
    costs = _costs(capsys.readouterr().out, "µs")
    assert len(costs) == 5
    assert all(c > 0 for c in costs)


def test_every_email_step_is_measured(capsys: pytest.CaptureFixture[str]) -> None:
    assert email_cost.main(["--messages", "10", "--tickets", "3"]) == 0
    costs = _costs(capsys.readouterr().out, "ms")
    assert len(costs) == 5
    assert all(c > 0 for c in costs)
    assert len(email_cost.confirmation_context(3)["tickets"][0]["qr_payload"]) == 118


def test_the_sender_loop_is_measured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every message written is sent (the count is the sender's), and each cost is printed."""
    args = ["--messages", "12", "--rounds", "1", "--data-dir", str(tmp_path / "pg")]
    assert sender_cost.main(args) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("round 1:")]
    assert "12 messages of 2 tickets" in line
    costs = [float(word) for word in line.split() if word.replace(".", "", 1).isdigit()]
    assert len(costs) == 5  # 12, 2, and the three costs
    process, postgres, wall = costs[2:]
    # PostgreSQL's CPU is read from /proc in clock ticks (10 ms): a small run may show none.
    assert process > 0
    assert postgres >= 0
    assert wall > 0
