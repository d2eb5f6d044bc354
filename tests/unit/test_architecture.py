"""The package's shape, checked from the source: one folder per feature, each holding its domain
modules and its AWS adapters (``aws_*``, named for the port they implement) beside a small shared
AWS core (``calsync.aws``); domain code knows no adapter, each adapter library has one home, and
the features import each other without a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import calsync

PACKAGE = Path(calsync.__file__).resolve().parent


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


FEATURES = (
    "calsync.actions",
    "calsync.intake",
    "calsync.bookings",
    "calsync.lifecycle",
    "calsync.connections",
    "calsync.reconcile",
    "calsync.erasure",
    "calsync.replay",
    "calsync.read",
    "calsync.analytics",
    "calsync.migrate",
    "calsync.fanout",
)
LIBRARIES = ("boto3", "botocore", "httpx", "mypy_boto3", "urllib.request")
HTTP_CLIENT = ("calsync.calendly.client", "calsync.calendly.http", "calsync.calendly.oauth")


def is_aws_adapter(name: str) -> bool:
    """``calsync.aws`` (the shared core) or a feature's ``aws_*`` module."""
    return _within(name, ("calsync.aws",)) or name.rsplit(".", 1)[-1].startswith("aws_")


def is_adapter(name: str) -> bool:
    return is_aws_adapter(name) or _within(
        name, (*HTTP_CLIENT, "calsync.lifecycle.outbound", "calsync.compose", *LIBRARIES)
    )


def _unit(name: str) -> str:
    """``calsync.bookings.aws_bookings`` → ``calsync.bookings``; top-level modules are units of their own."""
    return ".".join(name.split(".")[:2])


def test_the_package_is_found() -> None:
    assert {"calsync.compose", "calsync.intake.receive", "calsync.bookings.aws_bookings"} <= set(IMPORTS)


def test_each_feature_has_its_own_folder() -> None:
    # Given the package's sub-packages
    packages = {m for m in IMPORTS if (PACKAGE.parent / m.replace(".", "/") / "__init__.py").exists()}
    # Then they are the features, the shared AWS core, the Calendly client and the composition
    # root (one module per feature): nothing else
    assert packages == {"calsync", "calsync.aws", "calsync.calendly", "calsync.compose", *FEATURES}


DOMAIN = sorted(m for m in IMPORTS if _within(m, FEATURES) and not is_adapter(m))


@pytest.mark.parametrize("module", DOMAIN)
def test_domain_code_imports_no_adapter(module: str) -> None:
    # Given a domain module of a feature (not one of its adapters)
    # Then it imports no AWS adapter, the HTTP client, the composition root nor an AWS/HTTP library
    assert sorted(name for name in IMPORTS[module] if is_adapter(name)) == []


@pytest.mark.parametrize("module", sorted(m for m in IMPORTS if m.rsplit(".", 1)[-1].startswith("aws_")))
def test_aws_adapters_live_in_a_feature_folder(module: str) -> None:
    # Given an AWS adapter module outside the shared core
    # Then it sits directly in one feature's folder, beside the domain code whose port it implements
    assert module.rsplit(".", 1)[0] in FEATURES


@pytest.mark.parametrize(
    ("library", "home"),
    [
        (("boto3", "botocore", "mypy_boto3"), "aws"),
        (("httpx",), "http"),
    ],
)
def test_each_adapter_library_has_one_home(library: tuple[str, ...], home: str) -> None:
    # Given every module outside the library's home (the composition root may name types)
    def at_home(module: str) -> bool:
        return (is_aws_adapter(module) if home == "aws" else _within(module, HTTP_CLIENT)) or _within(
            module, ("calsync.compose",)
        )

    outside = {m: names for m, names in IMPORTS.items() if not at_home(m)}
    # Then none imports the library
    assert sorted(m for m, names in outside.items() if any(_within(n, library) for n in names)) == []


def test_nothing_in_the_package_imports_the_composition_root() -> None:
    root = ("calsync.compose",)
    assert (
        sorted(m for m, names in IMPORTS.items() if not _within(m, root) and any(_within(n, root) for n in names)) == []
    )


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


def test_one_class_per_name() -> None:
    # Given every class the package defines at module level
    defined: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.ClassDef):
                defined.setdefault(node.name, []).append(_module_name(path))
    # Then no two share a name (a reader never has to ask which ``Booking``)
    assert {name: homes for name, homes in defined.items() if len(homes) > 1} == {}


def test_the_package_imports_nothing_from_the_dev_tools() -> None:
    # Given every module shipped in the layer (the operator use cases included)
    # Then none imports calsync_dev (tools/, not shipped): a function can run every use case
    assert sorted(m for m, names in IMPORTS.items() if any(_within(n, ("calsync_dev",)) for n in names)) == []
