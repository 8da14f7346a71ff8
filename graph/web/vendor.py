"""Refresh the vendored browser modules from the npm registry: `make vendor`.

static/vendor/manifest.json names each package, its exact version and the files taken from
its tarball (with where they go under static/vendor/<dir>/). Each tarball is checked against
the registry's sha512 integrity before anything is written; the licence file is copied with
the code. Run it after changing a version in the manifest, then run the browser tests
(tests/browser) and commit the files it wrote."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

import httpx

from graph.web.assets import STATIC_DIR

VENDOR_DIR = STATIC_DIR / "vendor"
MANIFEST = VENDOR_DIR / "manifest.json"
REGISTRY = "https://registry.npmjs.org"


def load_manifest() -> list[dict[str, Any]]:
    packages: list[dict[str, Any]] = json.loads(MANIFEST.read_text())["packages"]
    return packages


def _verified_tarball(http: httpx.Client, name: str, version: str) -> bytes:
    meta = http.get(f"{REGISTRY}/{name}/{version}").raise_for_status().json()
    dist = meta["dist"]
    data = http.get(dist["tarball"]).raise_for_status().content
    algorithm, _, expected = dist["integrity"].partition("-")
    if algorithm != "sha512":
        raise SystemExit(f"{name}@{version}: unexpected integrity {dist['integrity']}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{name}@{version}: the tarball does not match its integrity")
    return data


def refresh(package: dict[str, Any], http: httpx.Client) -> list[Path]:
    """Download one package and write its listed files; returns the paths written."""
    data = _verified_tarball(http, package["name"], package["version"])
    target = VENDOR_DIR / package["dir"]
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written: list[Path] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for source, destination in package["files"].items():
            member = tar.extractfile(f"package/{source}")
            if member is None:
                raise SystemExit(f"{package['name']}: no file {source} in the tarball")
            path = target / destination
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(member.read())
            written.append(path)
    licence = package.get("licence_text")
    if licence:  # a package published without its licence file: the monorepo's, recorded
        (target / "LICENSE").write_text(licence)
        written.append(target / "LICENSE")
    return written


def main(argv: list[str] | None = None) -> int:
    only = set(argv if argv is not None else sys.argv[1:])
    with httpx.Client(timeout=60, follow_redirects=True) as http:
        for package in load_manifest():
            if only and package["name"] not in only:
                continue
            paths = refresh(package, http)
            print(f"{package['name']}@{package['version']}: {len(paths)} files", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
