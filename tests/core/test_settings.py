"""Settings: production needs a JWT secret; development keeps a generated one (0600)."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from db.orders.signing import generate_signing_key, private_key_seed
from graph.settings import Settings


def test_production_refuses_to_start_without_a_jwt_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MARQUEE_JWT_SECRET", raising=False)
    monkeypatch.setenv("MARQUEE_ENV", "production")
    with pytest.raises(ValidationError, match="MARQUEE_JWT_SECRET"):
        Settings()
    monkeypatch.setenv("MARQUEE_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("MARQUEE_TICKET_SIGNING_KEY", private_key_seed(generate_signing_key()))
    with pytest.raises(ValidationError, match="MARQUEE_ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION"):
        Settings()
    monkeypatch.setenv("MARQUEE_ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION", "true")
    with pytest.raises(ValidationError, match="MARQUEE_PAYMENT_WEBHOOK_SECRET"):
        Settings()
    monkeypatch.setenv("MARQUEE_PAYMENT_WEBHOOK_SECRET", "w" * 40)
    assert Settings().is_production


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/marquee")
    monkeypatch.setenv("MARQUEE_LOGIN_RATE_PER_MINUTE", "7")
    monkeypatch.setenv("MARQUEE_CORS_ORIGINS", '["https://app.example.com"]')
    settings = Settings()
    assert settings.database_url == "postgresql://u:p@db:5432/marquee"
    assert settings.login_rate_per_minute == 7
    assert settings.cors_origins == ["https://app.example.com"]


def test_replica_and_listen_urls_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unprefixed like DATABASE_URL (docs/scaling.md); the replica's pool is sized apart."""
    monkeypatch.setenv("DATABASE_READ_URL", "postgresql://u:p@replica:5432/marquee")
    monkeypatch.setenv("DATABASE_LISTEN_URL", "postgresql://u:p@primary:5432/marquee")
    monkeypatch.setenv("MARQUEE_DB_READ_POOL_SIZE", "6")
    settings = Settings()
    assert settings.database_read_url == "postgresql://u:p@replica:5432/marquee"
    assert settings.database_listen_url == "postgresql://u:p@primary:5432/marquee"
    assert settings.db_read_pool_size == 6


def test_development_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Settings(env="development", data_dir=data_dir).secret()
    path = data_dir / "jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    # a restart (or another worker) reuses it, so tokens stay valid
    assert Settings(env="development", data_dir=data_dir).secret() == first


def _read_secret(data_dir: str, start: Any, out: Any) -> None:
    settings = Settings(data_dir=Path(data_dir), jwt_secret=None)
    start.wait()
    out.put(settings.secret())


def test_workers_starting_together_read_one_whole_secret(tmp_path: Path) -> None:
    """Workers of a fresh data directory race to generate the secret: every one of them gets
    the same, whole secret (the file was once visible empty: a worker read "" as its key in
    most rounds of three processes)."""
    context = multiprocessing.get_context("fork")
    for round_ in range(20):
        data_dir = tmp_path / f"round-{round_}"
        data_dir.mkdir()
        start, out = context.Barrier(3), context.Queue()
        processes = [
            context.Process(target=_read_secret, args=(str(data_dir), start, out)) for _ in range(3)
        ]
        for p in processes:
            p.start()
        read = [out.get(timeout=30) for _ in processes]
        for p in processes:
            p.join(30)
        assert len(set(read)) == 1, (round_, read)
        assert len(read[0]) >= 60, (round_, read)
        assert read[0] == (data_dir / "jwt-secret").read_text().strip()
        assert stat.S_IMODE((data_dir / "jwt-secret").stat().st_mode) == 0o600
        assert [p.name for p in data_dir.iterdir()] == ["jwt-secret"]  # no temporary left
