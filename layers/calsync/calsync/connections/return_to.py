"""``return_to``: where the OAuth callback sends the customer back after connecting (an app's
"Connect Calendly" button), instead of showing calsync's own page.

Only origins the operator allowed (template parameter ``ConnectReturnOrigins``, comma-separated)
are accepted, so the callback can never be made an open redirect. The URL is checked when the
connection starts and kept with the pending authorization (server-side): the callback redirects
to what was stored, never to anything in its own query string.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

MAX_LENGTH = 2048
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ReturnToRefused(ValueError):
    """``return_to`` is not an allowed, absolute URL (the message says why; safe to show)."""


def _printable_ascii(text: str) -> bool:
    # a URL is ASCII once percent-encoded; spaces, controls, backslashes (read as "/" by
    # browsers) and other Unicode are refused rather than guessed at
    return all(0x21 <= ord(ch) <= 0x7E and ch != "\\" for ch in text)


def _origin(parts: SplitResult) -> str:
    """``scheme://host[:port]``, lower case, the default port left out (ValueError if malformed)."""
    scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        raise ValueError("not an origin")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else "")


def parse_origins(text: str) -> frozenset[str]:
    """The allow-list from ``ConnectReturnOrigins`` (``"https://app.example.com,http://localhost:8000"``);
    an entry that is not an origin allows nothing."""
    found = set()
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            found.add(_origin(urlsplit(entry)))
        except ValueError:
            continue
    return frozenset(found)


def check_return_to(value: str, allowed: Collection[str] | None) -> str:
    """``value`` if it is an absolute https URL (http only on this machine's loopback) whose
    origin is in ``allowed`` (``None``: any origin, for the operator's own CLI)."""
    if not value or len(value) > MAX_LENGTH or not _printable_ascii(value):
        raise ReturnToRefused(f"must be an absolute URL of printable ASCII, at most {MAX_LENGTH} characters")
    try:
        parts = urlsplit(value)
        origin = _origin(parts)
    except ValueError:
        raise ReturnToRefused("must be an absolute https URL (scheme, host, optional port; no user info)") from None
    if parts.scheme.lower() == "http" and (parts.hostname or "") not in LOOPBACK:
        raise ReturnToRefused("must use https (http only for localhost)")
    if allowed is not None and origin not in allowed:
        raise ReturnToRefused(f"origin {origin} is not in the stack's ConnectReturnOrigins")
    return value


def redirect_url(return_to: str, *, connection_id: str, status: str, reason: str) -> str:
    """``return_to`` with ``connection_id``, ``status`` (connected|failed) and ``reason`` added to
    its own query string."""
    parts = urlsplit(return_to)
    added = urlencode({"connection_id": connection_id, "status": status, "reason": reason})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
