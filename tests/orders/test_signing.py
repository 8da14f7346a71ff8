"""Signed ticket payloads: round trip, tampering and garbage, rotation, the published keys
(HTTP and GraphQL) as a door scanner uses them, the QR SVG, and the key settings."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from db.orders.signing import (
    MAX_PAYLOAD_LENGTH,
    InvalidTicketPayload,
    TicketClaims,
    TicketSigner,
    add_key_to_directory,
    generate_signing_key,
    key_id_for,
    private_key_pem,
    private_key_seed,
    public_key_x,
    read_key_directory,
)
from db.qr import qr_svg
from graph import cli
from graph.settings import Settings, get_settings
from tests.conftest import ROOT, GraphQLClient

KEYS_PATH = "/.well-known/marquee/ticket-keys.json"
KEYS_QUERY = "{ ticketSigningKeys { keyId algorithm publicKey current } }"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

SIGNER = TicketSigner(generate_signing_key())
PAYLOAD = SIGNER.sign(9_000_000_001, 4242, 17)


def _rejects(signer: TicketSigner, payload: Any) -> bool:
    try:
        signer.verify(payload)
    except InvalidTicketPayload:
        return True
    return False


def _scanner_verify(keys: list[dict[str, Any]], payload: str) -> list[str]:
    """What a door scanner does offline with the published keys and nothing but
    `cryptography`: the fields of a payload whose signature verifies (else raise)."""
    message, _, signature = payload.rpartition(".")
    fields = message.split(".")
    assert fields[0] == "MQT1"
    x = next(k["x"] for k in keys if k["kid"] == fields[4])
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    key.verify(raw, message.encode("ascii"))  # raises InvalidSignature
    return fields[1:]


# The payload ----------------------------------------------------------------------------


def test_sign_and_verify_round_trip() -> None:
    claims = SIGNER.verify(PAYLOAD)
    assert claims == TicketClaims(9_000_000_001, 4242, 17, SIGNER.key_id)
    assert PAYLOAD.startswith(f"MQT1.9000000001.4242.17.{SIGNER.key_id}.")
    assert SIGNER.sign(9_000_000_001, 4242, 17) == PAYLOAD  # Ed25519 is deterministic
    assert len(PAYLOAD) < 130
    biggest = SIGNER.sign(2**63 - 1, 2**63 - 1, 2**63 - 1)
    assert SIGNER.verify(biggest).seat_id == 2**63 - 1


@pytest.mark.parametrize("bad", [0, -1, 2**63, True, 1.0, "1"])
def test_sign_refuses_ids_that_are_not_bigint_identities(bad: Any) -> None:
    with pytest.raises(ValueError, match="ids must be integers"):
        SIGNER.sign(1, bad, 1)


def test_every_single_character_alteration_is_rejected() -> None:
    for i, original in enumerate(PAYLOAD):
        for c in ALPHABET + "0+/= \n\x00é":
            if c != original:
                altered = PAYLOAD[:i] + c + PAYLOAD[i + 1 :]
                assert _rejects(SIGNER, altered), altered
        assert _rejects(SIGNER, PAYLOAD[:i] + PAYLOAD[i + 1 :])  # deleted
        assert _rejects(SIGNER, PAYLOAD[:i] + "A" + PAYLOAD[i:])  # inserted
    assert _rejects(SIGNER, PAYLOAD + "A")
    assert _rejects(SIGNER, PAYLOAD + "\n")


def test_payloads_signed_by_another_key_are_rejected() -> None:
    other = generate_signing_key()
    # its own key id: unknown here
    assert _rejects(SIGNER, TicketSigner(other).sign(9_000_000_001, 4242, 17))
    # a forger who names our key id still cannot make our signature
    forged = TicketSigner(other, key_id=SIGNER.key_id).sign(9_000_000_001, 4242, 17)
    assert forged.rsplit(".", 1)[0] == PAYLOAD.rsplit(".", 1)[0]
    with pytest.raises(InvalidTicketPayload, match="bad signature"):
        SIGNER.verify(forged)
    # nor move our signature onto other fields
    moved = PAYLOAD.replace(".4242.", ".4243.")
    with pytest.raises(InvalidTicketPayload, match="bad signature"):
        SIGNER.verify(moved)


@hypothesis_settings(max_examples=250, derandomize=True, database=None, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=ALPHABET),
        st.from_regex(r"MQT1\.[0-9]{1,21}\.[0-9]{1,21}\.[0-9]{1,21}\.[\w-]{0,40}\.[\w-]{80,90}"),
        st.builds(
            lambda n, s: PAYLOAD[:n] + s + PAYLOAD[n:], st.integers(0, 140), st.text(min_size=1)
        ),
    )
)
def test_garbage_only_ever_raises_invalid_ticket_payload(text: str) -> None:
    assert _rejects(SIGNER, text)


def test_malformed_payloads() -> None:
    for text in [
        "",
        "MQT1",
        PAYLOAD * 2,
        "M" * (MAX_PAYLOAD_LENGTH + 1),
        "M" * 10_000_000,  # refused before any parsing
        PAYLOAD.replace("MQT1", "MQT2"),
        PAYLOAD.replace(".4242.", ".04242."),  # one spelling per id
        PAYLOAD.replace(".4242.", ".\u0664\u0662\u0664\u0662."),  # int() takes these digits
        PAYLOAD.replace(".9000000001.", ".9223372036854775808."),  # past bigint
        PAYLOAD.replace(".9000000001.", ".0."),
        "\ud800" + PAYLOAD,  # a lone surrogate: not even encodable
    ]:
        assert _rejects(SIGNER, text), text[:200]


@pytest.mark.parametrize("value", [None, b"MQT1", 1, ["MQT1"]])
def test_values_that_are_not_strings_are_invalid_too(value: Any) -> None:
    assert _rejects(SIGNER, value)


def test_the_signature_has_one_spelling() -> None:
    """86 base64url characters carry 516 bits for 512: the last character's two unused bits
    must be zero, else a second spelling of the same signature would verify."""
    message, _, signature = PAYLOAD.rpartition(".")
    last = ALPHABET.index(signature[-1])
    for low_bits in (1, 2, 3):
        respelled = f"{message}.{signature[:-1]}{ALPHABET[last ^ low_bits]}"
        assert _rejects(SIGNER, respelled)


# Keys and rotation ------------------------------------------------------------------------


def test_public_keys_are_jwks_with_a_current_marker() -> None:
    old = generate_signing_key()
    signer = TicketSigner(generate_signing_key(), "k2", [("k1", old.public_key())])
    assert signer.public_keys() == [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": public_key_x(signer._private_key.public_key()),
            "kid": "k2",
            "alg": "EdDSA",
            "use": "sig",
            "current": True,
        },
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": public_key_x(old.public_key()),
            "kid": "k1",
            "alg": "EdDSA",
            "use": "sig",
            "current": False,
        },
    ]
    with pytest.raises(ValueError, match="two different ticket keys"):
        TicketSigner(generate_signing_key(), "k1", [("k1", old.public_key())])
    with pytest.raises(ValueError, match="key id"):
        TicketSigner(old, "has.a.dot")


def test_after_rotation_old_payloads_verify_and_new_ones_carry_the_new_key_id(
    tmp_path: Path,
) -> None:
    before = Settings(env="development", data_dir=tmp_path)
    old_payload = before.ticket_signer().sign(1, 2, 3)
    old_kid = before.ticket_signer().key_id
    new_kid = before.rotate_ticket_key()
    assert new_kid != old_kid
    # a process started after the rotation (and the rotating one itself)
    for settings in (before, Settings(env="development", data_dir=tmp_path)):
        signer = settings.ticket_signer()
        assert signer.key_id == new_kid
        assert signer.verify(old_payload).key_id == old_kid
        assert signer.verify(signer.sign(1, 2, 3)).key_id == new_kid
        assert [(k["kid"], k["current"]) for k in signer.public_keys()] == [
            (new_kid, True),
            (old_kid, False),
        ]


def test_rotation_in_settings_keeps_the_retired_public_key(monkeypatch: pytest.MonkeyPatch) -> None:
    old = generate_signing_key()
    old_payload = TicketSigner(old, "2024-a").sign(5, 6, 7)
    new = generate_signing_key()
    monkeypatch.setenv("MARQUEE_TICKET_SIGNING_KEY", private_key_pem(new).decode())
    monkeypatch.setenv("MARQUEE_TICKET_SIGNING_KEY_ID", "2025-a")
    monkeypatch.setenv(
        "MARQUEE_TICKET_RETIRED_PUBLIC_KEYS",
        f'[{{"kid": "2024-a", "x": "{public_key_x(old.public_key())}"}}]',
    )
    signer = Settings().ticket_signer()
    assert signer.verify(old_payload) == TicketClaims(5, 6, 7, "2024-a")
    assert signer.sign(5, 6, 7).split(".")[4] == "2025-a"


def test_the_cli_rotates_the_development_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARQUEE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MARQUEE_TICKET_SIGNING_KEY", raising=False)
    old_payload = Settings().ticket_signer().sign(1, 2, 3)
    get_settings.cache_clear()
    try:
        cli.main(["rotate-ticket-key"])
    finally:
        get_settings.cache_clear()
    new_kid = Settings().ticket_signer().key_id
    assert f"ticket key {new_kid} is now current" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "ticket-keys").iterdir()) == ["0001.pem", "0002.pem"]
    assert Settings().ticket_signer().verify(old_payload).key_id != new_kid


def test_the_cli_prints_new_settings_when_the_key_is_in_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = generate_signing_key()
    monkeypatch.setenv("MARQUEE_ENV", "production")
    monkeypatch.setenv("MARQUEE_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("MARQUEE_TICKET_SIGNING_KEY", private_key_seed(old))
    monkeypatch.setenv("MARQUEE_ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION", "true")
    monkeypatch.setenv("MARQUEE_PAYMENT_WEBHOOK_SECRET", "w" * 40)
    old_payload = Settings().ticket_signer().sign(1, 2, 3)
    get_settings.cache_clear()
    try:
        cli.main(["rotate-ticket-key"])
    finally:
        get_settings.cache_clear()
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    printed = dict(line.split("=", 1) for line in lines)
    assert set(printed) == {
        "MARQUEE_TICKET_SIGNING_KEY",
        "MARQUEE_TICKET_SIGNING_KEY_ID",
        "MARQUEE_TICKET_RETIRED_PUBLIC_KEYS",
    }
    for name, value in printed.items():
        monkeypatch.setenv(name, value.strip("'"))
    signer = Settings().ticket_signer()
    assert signer.key_id == printed["MARQUEE_TICKET_SIGNING_KEY_ID"] != key_id_for(old.public_key())
    assert signer.verify(old_payload).key_id == key_id_for(old.public_key())


# Published keys, as a scanner uses them ----------------------------------------------------


async def test_endpoint_and_query_publish_the_same_keys_and_they_verify_payloads(
    gql: GraphQLClient, settings: Settings
) -> None:
    response = await gql.http.get(KEYS_PATH)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"] == "application/json"
    keys = response.json()["keys"]
    data = await gql.execute(KEYS_QUERY)
    assert [
        {"keyId": k["kid"], "algorithm": "Ed25519", "publicKey": k["x"], "current": k["current"]}
        for k in keys
    ] == data["ticketSigningKeys"]
    assert [k["current"] for k in keys].count(True) == 1
    for k in keys:
        assert (k["kty"], k["crv"], k["alg"], k["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")

    payload = settings.ticket_signer().sign(31, 41, 59)
    assert _scanner_verify(keys, payload) == ["31", "41", "59", settings.ticket_signer().key_id]
    forged = TicketSigner(generate_signing_key(), settings.ticket_signer().key_id).sign(31, 41, 59)
    with pytest.raises(InvalidSignature):
        _scanner_verify(keys, forged)


def test_qr_svg_is_a_scalable_svg_document() -> None:
    svg = qr_svg(PAYLOAD)
    assert svg.startswith("<svg")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "viewBox" in root.attrib
    assert "width" not in root.attrib
    assert "height" not in root.attrib
    assert qr_svg(PAYLOAD) == svg


# Development keys and production settings --------------------------------------------------


def _modes(directory: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}


def test_development_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = Settings(env="development", data_dir=tmp_path).ticket_signer()
    directory = tmp_path / "ticket-keys"
    assert _modes(directory) == {"0001.pem": 0o600}
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    again = Settings(env="development", data_dir=tmp_path).ticket_signer()
    assert again.public_keys() == first.public_keys()


def _at_once(count: int, work: Callable[[], str]) -> list[str]:
    """The results of `work` run by `count` threads released together."""
    barrier = threading.Barrier(count)
    results: list[str] = []

    def run() -> None:
        barrier.wait()
        results.append(work())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == count
    return results


def test_threads_generating_the_first_key_agree(tmp_path: Path) -> None:
    for attempt in range(5):
        directory = tmp_path / str(attempt)
        kids = _at_once(8, lambda d=directory: key_id_for(read_key_directory(d)[-1].public_key()))
        assert len(set(kids)) == 1
        assert _modes(directory) == {"0001.pem": 0o600}


def test_concurrent_rotations_lose_no_key(tmp_path: Path) -> None:
    added = _at_once(4, lambda: key_id_for(add_key_to_directory(tmp_path).public_key()))
    assert _modes(tmp_path) == {f"000{n}.pem": 0o600 for n in range(1, 5)}
    assert sorted(key_id_for(k.public_key()) for k in read_key_directory(tmp_path)) == sorted(added)


PROCESS = """
import sys, time
from pathlib import Path
from graph.settings import Settings
data_dir, ready, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.001)
print(Settings(env="development", data_dir=data_dir).ticket_signer().key_id)
"""


def test_processes_generating_the_first_key_agree(tmp_path: Path) -> None:
    data_dir, go = tmp_path / "data", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    readies = [tmp_path / f"ready-{i}" for i in range(4)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS, str(data_dir), str(ready), str(go)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for ready in readies
    ]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in readies) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=60)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert len(set(outputs)) == 1
    assert outputs[0]
    assert _modes(data_dir / "ticket-keys") == {"0001.pem": 0o600}


def test_production_refuses_to_start_without_a_ticket_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARQUEE_ENV", "production")
    monkeypatch.setenv("MARQUEE_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("MARQUEE_ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION", "true")
    monkeypatch.setenv("MARQUEE_PAYMENT_WEBHOOK_SECRET", "w" * 40)
    monkeypatch.delenv("MARQUEE_TICKET_SIGNING_KEY", raising=False)
    with pytest.raises(ValidationError, match="MARQUEE_TICKET_SIGNING_KEY is required"):
        Settings()
    monkeypatch.setenv("MARQUEE_TICKET_SIGNING_KEY", "  ")
    with pytest.raises(ValidationError, match="MARQUEE_TICKET_SIGNING_KEY is required"):
        Settings()
    # the key in either form; a seed in standard base64 (openssl rand -base64 32) too
    key = generate_signing_key()
    standard = base64.b64encode(base64.urlsafe_b64decode(private_key_seed(key) + "=")).decode()
    for text in (private_key_seed(key), standard, private_key_pem(key).decode()):
        monkeypatch.setenv("MARQUEE_TICKET_SIGNING_KEY", text)
        assert Settings().ticket_signer().key_id == key_id_for(key.public_key())


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MARQUEE_TICKET_SIGNING_KEY", "c2VjcmV0LXNlZWQtdGhhdC1pcy10b28tc2hvcnQ", "32 bytes"),
        ("MARQUEE_TICKET_SIGNING_KEY", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n", "PEM"),
        ("MARQUEE_TICKET_SIGNING_KEY_ID", "not.a.key.id", "key id"),
        ("MARQUEE_TICKET_RETIRED_PUBLIC_KEYS", '[{"kid": "a", "x": "c2VjcmV0"}]', "32 bytes"),
    ],
)
def test_unusable_ticket_settings_refuse_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("MARQUEE_TICKET_SIGNING_KEY", private_key_seed(generate_signing_key()))
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message) as raised:
        Settings()
    assert "c2VjcmV0" not in str(raised.value)
