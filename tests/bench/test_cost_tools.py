"""bench.statement_cost and bench.email_cost run end to end (small): every step prints its
cost."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import email_cost, statement_cost


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
