"""bench.statement_cost runs end to end (small): every path prints its cost."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import statement_cost


def test_every_path_is_measured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--statements", "40", "--rounds", "1", "--data-dir", str(tmp_path / "pg")]
    assert statement_cost.main(args) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "µs" in line]
    assert len(lines) == 5
    assert all(float(line.split()[0]) > 0 for line in lines)
