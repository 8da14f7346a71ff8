"""docker-compose.yml and the Dockerfile configure the app only through real settings."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from db.orders.signing import generate_signing_key, private_key_seed
from graph.settings import Settings
from tests.conftest import ROOT

# Read by the CLI, not by Settings.
CLI_VARIABLES = {"MARQUEE_ADMIN_PASSWORD"}


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _setting_names() -> set[str]:
    names = {"DATABASE_URL"}
    for name, field in Settings.model_fields.items():
        names.add(f"MARQUEE_{name.upper()}")
        alias = field.validation_alias
        if alias is not None:
            names.update(str(a) for a in getattr(alias, "choices", [alias]))
    return names


def _substitute(value: str) -> str:
    """${VAR:-default} -> default, ${VAR:?message} -> a stand-in value (a real key for the
    ticket signing key, which is parsed)."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", _stand_in, value)


def _stand_in(match: re.Match[str]) -> str:
    if match[1] == "MARQUEE_TICKET_SIGNING_KEY":
        return private_key_seed(generate_signing_key())
    return "stand-in-secret-" + "x" * 32


def test_compose_app_variables_are_settings() -> None:
    env = _compose()["services"]["app"]["environment"]
    unknown = set(env) - _setting_names() - CLI_VARIABLES
    assert unknown == set(), f"not fields of graph.settings.Settings: {sorted(unknown)}"
    assert env["MARQUEE_ENV"] == "production"
    assert "MARQUEE_JWT_SECRET" in env
    assert "MARQUEE_TICKET_SIGNING_KEY" in env
    assert "DATABASE_URL" in env


def test_compose_environment_makes_valid_production_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in _compose()["services"]["app"]["environment"].items():
        monkeypatch.setenv(key, _substitute(str(value)))
    settings = Settings()
    assert settings.is_production
    assert settings.database_url is not None
    assert settings.database_url.startswith("postgresql+asyncpg://marquee:")
    assert settings.workers == 2
    assert settings.graphiql is False


def test_compose_database_is_postgres_17_with_health_check_and_volume() -> None:
    compose = _compose()
    db = compose["services"]["db"]
    assert db["image"] == "postgres:17"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(str(v).startswith("pgdata:") for v in db["volumes"])
    assert "pgdata" in compose["volumes"]
    app = compose["services"]["app"]
    assert app["build"] == "."
    assert app["depends_on"]["db"]["condition"] == "service_healthy"


def test_dockerfile_variables_are_settings() -> None:
    text = (ROOT / "Dockerfile").read_text()
    names = set(re.findall(r"\b(MARQUEE_[A-Z_]+)=", text))
    assert names, "the Dockerfile sets no MARQUEE_ variable?"
    assert names - _setting_names() == set()
    assert 'CMD ["marquee", "serve"]' in text
