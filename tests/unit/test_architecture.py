"""The package's shape, checked from the source: domain code knows no adapter, each adapter
library has one home, and the sub-packages import each other without a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import calsync

PACKAGE = Path(calsync.__file__).resolve().parent
DOMAIN = ("calsync.webhooks", "calsync.bookings", "calsync.connections", "calsync.lifecycle", "calsync.reconcile")
ADAPTERS = (
    "calsync.store",
    "calsync.calendly.client",
    "calsync.calendly.http",
    "calsync.calendly.oauth",
    "calsync.outbound",
    "calsync.compose",
    "boto3",
    "botocore",
    "httpx",
    "mypy_boto3",
    "urllib.request",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module a file imports: top-level, in functions and under TYPE_CHECKING alike."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


IMPORTS = {_module_name(path): set(_imports(path)) for path in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _unit(name: str) -> str:
    """``calsync.store.bookings`` → ``calsync.store``; top-level modules are units of their own."""
    return ".".join(name.split(".")[:2])


def test_the_package_is_found() -> None:
    assert {"calsync.compose", "calsync.webhooks.receiver", "calsync.store.bookings"} <= set(IMPORTS)


@pytest.mark.parametrize("module", sorted(m for m in IMPORTS if _within(m, DOMAIN)))
def test_domain_code_imports_no_adapter(module: str) -> None:
    # Given a module of a domain package
    # Then it imports neither the store, the HTTP client, the composition root nor an AWS/HTTP library
    assert sorted(name for name in IMPORTS[module] if _within(name, ADAPTERS)) == []


@pytest.mark.parametrize(
    ("library", "home"),
    [
        (("boto3", "botocore", "mypy_boto3"), ("calsync.store",)),
        (("httpx",), ("calsync.calendly.client", "calsync.calendly.http", "calsync.calendly.oauth")),
    ],
)
def test_each_adapter_library_has_one_home(library: tuple[str, ...], home: tuple[str, ...]) -> None:
    # Given every module outside the library's home (the composition root may name types)
    outside = {m: names for m, names in IMPORTS.items() if not _within(m, (*home, "calsync.compose"))}
    # Then none imports the library
    assert sorted(m for m, names in outside.items() if any(_within(n, library) for n in names)) == []


def test_nothing_in_the_package_imports_the_composition_root() -> None:
    assert sorted(m for m, names in IMPORTS.items() if m != "calsync.compose" and "calsync.compose" in names) == []


def test_no_import_cycle_between_sub_packages() -> None:
    # Given the graph of imports between calsync's units (sub-packages and top-level modules)
    graph: dict[str, set[str]] = {}
    for module, names in IMPORTS.items():
        for name in names:
            if (
                name.startswith("calsync.")
                and _unit(name) in {_unit(m) for m in IMPORTS}
                and _unit(name) != _unit(module)
            ):
                graph.setdefault(_unit(module), set()).add(_unit(name))
    # When it is searched depth-first
    cycles: list[list[str]] = []

    def visit(unit: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(unit, ())):
            if nxt in path:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif len(path) < len(graph) + 1:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    # Then no unit reaches itself again
    assert cycles == []
