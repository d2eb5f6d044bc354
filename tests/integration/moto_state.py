"""Provision once, restore per test: moto's in-process state copied right after the stack was
provisioned from template.yaml, and put back (a fresh copy each time) for every later test.

Provisioning makes ~50 AWS calls (queues, tables, buckets, secrets, buses, schedule groups);
restoring copies the few objects they made in well under a millisecond. Each test still starts
from exactly what ``provision`` leaves behind and nothing else: ``mock_aws`` resets every
backend when it starts, the copy replaces whole region backends, and a test's own writes land
in its copy, never in the snapshot. ``tests/integration/test_moto_state.py`` checks a restored
stack against a freshly provisioned one.

This reads moto's backend registry (``BackendDict``), which moto keeps for its own reset; if
the registry is not what this expects, :func:`take` says so and the fixture provisions anew.
"""

from __future__ import annotations

import copy
import threading
import types
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from moto.core.base_backend import BackendDict

# Model and endpoint files botocore reads for every new session's first client of a service
# (moto starts each test with a new default session): read once per test run instead.
_LOADER = botocore.loaders.create_loader()

_LOCKS = (type(threading.Lock()), type(threading.RLock()), threading.Condition)
_ATOMS = (str, bytes, int, float, bool, type(None), type, types.ModuleType, types.FunctionType, types.MethodType)


def new_session(region: str = "us-east-1") -> boto3.Session:
    """A new boto3 session (credentials and clients of its own) sharing the parsed service models."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=region)


def _fresh_locks(root: Any) -> dict[int, Any]:
    """A deepcopy memo giving every lock (or condition) reachable from ``root`` a new one:
    locks cannot be copied, and a restored backend must not share them with the snapshot."""
    memo: dict[int, Any] = {}
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) in seen or isinstance(node, _ATOMS):
            continue
        seen.add(id(node))
        if isinstance(node, _LOCKS):
            memo[id(node)] = threading.Condition() if isinstance(node, threading.Condition) else type(node)()
        elif isinstance(node, dict):
            todo.extend(node.keys())
            todo.extend(node.values())
        elif isinstance(node, list | tuple | set | frozenset):
            todo.extend(node)
        elif hasattr(node, "__dict__"):
            todo.extend(vars(node).values())
    return memo


def _copy(backend: Any) -> Any:
    return copy.deepcopy(backend, _fresh_locks(backend))


class UnexpectedRegistry(RuntimeError):
    """moto's backend registry is not laid out as this module expects."""


@dataclass(frozen=True)
class Snapshot:
    """Copies of every region backend in use when it was taken, by service and account."""

    backends: tuple[tuple[BackendDict[Any], str, str, Any], ...]

    @classmethod
    def take(cls) -> Snapshot:
        backends = []
        for service in BackendDict._instances:  # every service used since mock_aws started
            if not isinstance(service, BackendDict):
                raise UnexpectedRegistry(f"not a BackendDict: {type(service).__name__}")
            for account, regions in dict.items(service):
                for region, backend in dict.items(regions):
                    backends.append((service, account, region, _copy(backend)))
        return cls(tuple(backends))

    def restore(self) -> None:
        """Into a freshly started ``mock_aws`` (nothing in use yet): a copy of each backend."""
        if in_use():
            raise UnexpectedRegistry("restore needs an empty moto (mock_aws just started)")
        for service, account, region, backend in self.backends:
            dict.__setitem__(service[account], region, _copy(backend))


def in_use() -> bool:
    """Whether any AWS resource exists in moto (a call has created a backend)."""
    return any(dict.__len__(service) for service in BackendDict._instances)
