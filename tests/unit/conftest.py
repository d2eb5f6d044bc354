"""Unit tests open no sockets: every test under tests/unit runs with pytest-socket's guard.

The guard is an autouse fixture here, so it covers only this directory; tests/integration and
tests/e2e (moto server, the local stack) keep their sockets even when one pytest run collects
every suite. pytest-socket puts the real ``socket.socket`` back after each test.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_sockets(socket_disabled: None) -> None:
    """Requesting pytest-socket's ``socket_disabled`` makes ``socket.socket`` (and name lookups) raise
    ``SocketBlockedError`` for the whole test; a test that needs a socket belongs in tests/integration."""
