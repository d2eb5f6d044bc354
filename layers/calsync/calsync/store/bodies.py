"""S3 adapter for the ``DeliveryBodies`` port (``calsync.webhooks.delivery``): the bucket that
holds delivery bodies too large for a queue message. Objects live under ``BODIES_PREFIX``, the
one prefix the functions' IAM names; the bucket's lifecycle rule expires them with the archive."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from calsync.store.errors import aws_call, unless
from calsync.webhooks.delivery import BODIES_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NO_SUCH_KEY = "NoSuchKey"


@cache
def s3() -> S3Client:
    """The default client, built on first use. One attempt (``total_max_attempts``: botocore's
    ``max_attempts`` counts retries) of at most 1 s to connect and 3 s between reads: the receiver puts a body before it enqueues and must answer within ~5 s
    (a failed put is a 503 and Calendly's retry is the retry; a processor's failed get is
    redelivered by its queue)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", config=Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 1})
    )


class S3DeliveryBodies:
    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> S3Client:
        return self._client or s3()

    def put(self, key: str, body: bytes) -> None:
        with aws_call("s3:PutObject (delivery body)"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def get(self, key: str) -> bytes | None:
        found: Any = unless(
            NO_SUCH_KEY, "s3:GetObject (delivery body)", lambda: self.client.get_object(Bucket=self.bucket, Key=key)
        )
        if found is None:
            return None
        with aws_call("s3:GetObject (delivery body)"):
            data: bytes = found["Body"].read()
        return data

    def delete(self, key: str) -> None:
        """Remove one body (erasure); one already gone is fine."""
        with aws_call("s3:DeleteObject (delivery body)"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def stored_keys(self) -> Iterator[str]:
        """Every body's key (erasure reads each: large bodies are rare)."""
        paginator = self.client.get_paginator("list_objects_v2")
        with aws_call("s3:ListObjectsV2 (delivery bodies)"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=BODIES_PREFIX):
                yield from (item["Key"] for item in page.get("Contents", []))
