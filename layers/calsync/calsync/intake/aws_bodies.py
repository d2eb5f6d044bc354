"""S3 adapter for the ``DeliveryBodies`` port (``calsync.intake.delivery``): the bucket that
holds delivery bodies too large for a queue message. Objects live under ``BODIES_PREFIX``, the
one prefix the functions' IAM names; the bucket's lifecycle rule expires them with the archive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from calsync.aws import clients
from calsync.aws.errors import aws_call, unless
from calsync.intake.delivery import BODIES_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NO_SUCH_KEY = "NoSuchKey"


class S3DeliveryBodies:
    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> S3Client:
        return self._client or clients.s3()

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
