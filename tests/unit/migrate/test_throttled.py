"""AWS's "too fast" answers become ``Throttled`` (a ``DependencyUnavailable``, so every caller that
handled the failure before still does), which the migrations wait out; other failures do not."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from calsync.aws.errors import aws_call
from calsync.errors import DependencyUnavailable, Throttled


def refused(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, "Scan")


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_a_refused_rate_is_throttled(code: str) -> None:
    with pytest.raises(Throttled, match=f"dynamodb:Scan \\(x\\) failed: {code}"), aws_call("dynamodb:Scan (x)"):
        raise refused(code)


def test_another_failure_is_unavailable_not_throttled() -> None:
    with pytest.raises(DependencyUnavailable) as raised, aws_call("dynamodb:Scan (x)"):
        raise refused("InternalServerError")
    assert not isinstance(raised.value, Throttled)
