"""Translate botocore failures into calsync's exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from calsync.errors import DependencyUnavailable


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def aws_call(what: str) -> Iterator[None]:
    """Any AWS failure inside becomes ``DependencyUnavailable`` naming the operation only."""
    try:
        yield
    except ClientError as exc:
        raise DependencyUnavailable(f"{what} failed: {error_code(exc) or 'ClientError'}") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailable(f"{what} failed: {type(exc).__name__}") from exc
