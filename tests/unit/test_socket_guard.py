"""The unit suite's socket guard (tests/unit/conftest.py) is on."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError


def test_a_unit_test_cannot_open_a_socket() -> None:
    # Given a test under tests/unit
    # When it tries to open a socket, Then pytest-socket refuses before anything is bound
    with pytest.warns(UserWarning, match=r"socket\.socket"), pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_a_unit_test_cannot_connect_or_resolve_names() -> None:
    # When it tries to reach a local port or look up a host name, Then both are refused
    with pytest.warns(UserWarning, match=r"getaddrinfo"), pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    with pytest.warns(UserWarning, match=r"getaddrinfo"), pytest.raises(SocketBlockedError):
        socket.getaddrinfo("api.calendly.com", 443)
