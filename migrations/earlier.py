"""An earlier migration's module, for a later migration that patches the text of a function
it created (`CREATE OR REPLACE` with one statement changed, its downgrade the text as it
was): `earlier("0029_payload_order").SETTLE_HEAD`.

Version files are not importable by name (their names start with digits), so the module is
loaded from its file in `versions/`, once per call."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

VERSIONS = Path(__file__).with_name("versions")


def earlier(name: str) -> ModuleType:
    path = VERSIONS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"marquee_migration_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
