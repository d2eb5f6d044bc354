"""Translate botocore failures into calsync's exceptions: the one place an AWS error code is read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from calsync.errors import DependencyUnavailable, Throttled, Unstorable

# The AWS answers calsync expects and treats as outcomes, not failures.
CONDITION_FAILED = "ConditionalCheckFailedException"  # DynamoDB: the write's condition was false
NOT_FOUND = "ResourceNotFoundException"  # Secrets Manager, Scheduler: no such resource
CONFLICT = "ConflictException"  # Scheduler: a schedule of that name exists
# DynamoDB: the request can never succeed as written (a key or the item over its size limits:
# 2,048-byte partition key, 1,024-byte sort key, 400 KB item); retrying the same input cannot help.
INVALID = "ValidationException"
# The service's answers for "too fast" (any service; DynamoDB's first two): ``Throttled``.
THROTTLED = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def aws_call(what: str, *, input_checked: bool = False) -> Iterator[None]:
    """Any AWS failure inside becomes ``DependencyUnavailable`` naming the operation only (``Throttled``,
    a kind of it, when the service refused the rate: a caller may back off and try again); with
    ``input_checked`` (calls carrying a delivery's data), DynamoDB's refusal of the request as
    invalid becomes ``Unstorable``: the delivery is quarantined, not retried into a DLQ."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if input_checked and code == INVALID:
            raise Unstorable(
                f"{what} refused ({code}): the item can never be stored "
                "(over DynamoDB's limits: 2,048-byte partition key, 1,024-byte sort key, 400 KB item)"
            ) from exc
        kind = Throttled if code in THROTTLED else DependencyUnavailable
        raise kind(f"{what} failed: {code or 'ClientError'}") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailable(f"{what} failed: {type(exc).__name__}") from exc


def answered[R](expected: str, call: Callable[[], R]) -> R | None:
    """``call()``'s response, or ``None`` when AWS answers with the ``expected`` error code
    (the one place a code is compared); any other error propagates."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) == expected:
            return None
        raise


def unless[R](expected: str, what: str, call: Callable[[], R], *, input_checked: bool = False) -> R | None:
    """``answered`` inside ``aws_call``: any other failure is ``DependencyUnavailable``."""
    with aws_call(what, input_checked=input_checked):
        return answered(expected, call)
