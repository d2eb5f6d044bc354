"""The one moto the local stack runs on.

The emulator patches moto's private names (``speedups``: its module listing, SQS's clock and
retention, DynamoDB's expression parsing; ``atomic``: SQS receives, DynamoDB's request
handling; ``faults``: the Scheduler's backend), read from moto 5.2.5's source. Another version
may rename or reshape any of them, and the stack would then fail somewhere far from the cause,
or worse, silently not patch. So it refuses to start on any other version; pyproject.toml pins
the same one (a test checks both agree).
"""

from __future__ import annotations

from importlib.metadata import version

MOTO_VERSION = "5.2.5"


class WrongMotoVersion(RuntimeError):
    """The installed moto is not the one the local stack's patches were written against."""


def check_moto_version(found: str | None = None) -> None:
    """Refuse anything but :data:`MOTO_VERSION` (``found``: the installed moto unless given)."""
    found = found or version("moto")
    if found != MOTO_VERSION:
        raise WrongMotoVersion(
            f"the local stack needs moto {MOTO_VERSION} (its AWS emulator patches moto's private names, "
            f"written against that version), found moto {found}: run `make venv` to install the pinned "
            "requirements (requirements/dev.txt)"
        )
