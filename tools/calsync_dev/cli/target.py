"""Where the resources are: the local stack (the default) or a deployed stack (``--stack``)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from calsync.config import ConnectionSettings
from calsync.intake.routing import QueueKind
from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.template import queue_logical_id

if TYPE_CHECKING:
    from calsync.bookings.aws_bookings import DynamoBookingsRepository
    from calsync.compose import Connections, Reconciling
    from calsync.connections.disconnect import Disconnector
    from calsync.intake.aws_bodies import S3DeliveryBodies
    from calsync.intake.aws_queues import SqsDeliveryQueue

# The subparsers each command module adds its commands to.
type Commands = argparse._SubParsersAction[argparse.ArgumentParser]


@dataclass(frozen=True)
class Target:
    endpoint_url: str | None
    table: str
    queues: dict[QueueKind, str]  # intake queue URL per kind
    dlqs: dict[QueueKind, str]  # its dead-letter queue's URL
    token_prefix: str = "calsync/local/tokens/"  # noqa: S105 - a secret's name
    signing_key_prefix: str = "calsync/local/signing-keys/"
    oauth_app_secret: str = "calsync/local/oauth-app"  # noqa: S105 - a secret's name
    api_base: str = "http://127.0.0.1:3000"
    calendly_api_url: str = "https://api.calendly.com"
    authorize_url: str = "https://auth.calendly.com/oauth/authorize"
    calendly_token_url: str = "https://auth.calendly.com/oauth/token"  # noqa: S105 - a URL (revoke is beside it)
    reconcile_requests_url: str = "-"  # the reconcile-requests queue (only the function sends there)
    erasure_key_secret: str = "calsync/local/erasure-key"  # noqa: S105 - a secret's name
    # The lifecycle consumers' queues (and DLQs): their events carry bookings' personal data.
    lifecycle_queues: dict[str, str] = field(default_factory=dict)
    bodies_bucket: str | None = None  # delivery bodies too large for a queue message
    # The scheduled jobs' work DLQs (docs/scale.md), by logical id: units that failed every retry.
    work_dlqs: dict[str, str] = field(default_factory=dict)

    def session(self) -> Any:
        import boto3

        if self.endpoint_url:
            return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")  # noqa: S106 - emulator
        return boto3.Session()

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)

    # The services, built by the same composition root the functions use.

    def connection_settings(self) -> ConnectionSettings:
        return ConnectionSettings(
            bookings_table_name=self.table,
            token_secret_prefix=self.token_prefix,
            signing_key_prefix=self.signing_key_prefix,
            oauth_app_secret_name=self.oauth_app_secret,
            calendly_api_url=self.calendly_api_url,
            calendly_token_url=self.calendly_token_url,
        )

    def connections(self) -> Connections:
        from calsync import compose

        return compose.connections(
            self.connection_settings(),
            dynamodb=self.client("dynamodb"),
            secretsmanager=self.client("secretsmanager"),
        )

    def disconnector(self) -> Disconnector:
        from calsync import compose

        return compose.disconnector(
            self.connection_settings(),
            dynamodb=self.client("dynamodb"),
            secretsmanager=self.client("secretsmanager"),
        )

    def reconciling(self) -> Reconciling:
        from calsync import compose
        from calsync.config import ReconcilerSettings

        settings = ReconcilerSettings(
            **self.connection_settings().model_dump(),
            queue_urls=self.queues,
            reconcile_requests_queue_url=self.reconcile_requests_url,
            erasure_key_secret_name=self.erasure_key_secret,
            delivery_bodies_bucket=self.bodies_bucket,
        )
        return compose.reconciling(
            settings,
            dynamodb=self.client("dynamodb"),
            sqs=self.client("sqs"),
            secretsmanager=self.client("secretsmanager"),
        )

    def bookings(self) -> DynamoBookingsRepository:
        from calsync import compose

        return compose.bookings_repository(self.table, dynamodb=self.client("dynamodb"))

    def delivery_queue(self) -> SqsDeliveryQueue:
        from calsync import compose

        sqs, s3 = self.client("sqs"), self.bodies_client()
        return compose.delivery_queue(self.queues, bodies_bucket=self.bodies_bucket, sqs=sqs, s3=s3)

    def bodies_client(self) -> Any:
        """An S3 client for the delivery-bodies bucket (path-style on the emulator)."""
        if not self.endpoint_url:
            return self.client("s3")
        from botocore.config import Config

        return self.session().client(
            "s3", endpoint_url=self.endpoint_url, config=Config(s3={"addressing_style": "path"})
        )

    def bodies(self) -> S3DeliveryBodies | None:
        from calsync import compose

        return compose.delivery_bodies(self.bodies_bucket, s3=self.bodies_client())


# Queues besides the intake ones whose messages may carry an invitee's address (calsync erase).
# Queues beyond the intake ones whose messages may carry an address (calsync erase sweeps them):
# the lifecycle consumers' and the erasure requests' DLQ (a failed request keeps its address).
LIFECYCLE_QUEUES = (
    "SlackQueue",
    "SlackDLQ",
    "SlackRuleDLQ",
    "ForwardQueue",
    "ForwardDLQ",
    "ForwardRuleDLQ",
    "ErasureDLQ",
)


WORK_DLQS = ("RefreshWorkDLQ", "WatchdogWorkDLQ", "ReconcileWorkDLQ")


def local_signing_key() -> str:
    """The local stack's webhook signing key (read when the parser is built, as a default)."""
    return os.environ.get("CALSYNC_LOCAL_SIGNING_KEY", DEFAULT_LOCAL_KEY)


def local_target() -> Target:
    """The local stack's resources, on the host and ports ``calsync local`` reads from the environment."""
    from calsync_dev.local.config import STAGE, LocalConfig
    from calsync_dev.template import load

    config = LocalConfig.from_env()
    resources = load()["Resources"]
    queues: dict[QueueKind, str] = {}
    dlqs: dict[QueueKind, str] = {}
    base = f"{config.endpoint_url}/123456789012"
    for kind in QueueKind:
        logical = queue_logical_id(kind)
        dlq = resources[logical]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        queues[kind] = f"{base}/calsync-{STAGE}-{logical}"
        dlqs[kind] = f"{base}/calsync-{STAGE}-{dlq}"
    return Target(
        config.endpoint_url,
        f"calsync-{STAGE}-BookingsTable",
        queues,
        dlqs,
        token_prefix=f"calsync/{STAGE}/tokens/",
        signing_key_prefix=f"calsync/{STAGE}/signing-keys/",
        oauth_app_secret=f"calsync/{STAGE}/oauth-app",
        api_base=config.api_url,
        calendly_api_url=config.calendly_url,
        authorize_url=f"{config.calendly_url}/oauth/authorize",
        calendly_token_url=f"{config.calendly_url}/oauth/token",
        reconcile_requests_url=f"{base}/calsync-{STAGE}-ReconcileRequestsQueue",
        erasure_key_secret=f"calsync/{STAGE}/erasure-key",
        lifecycle_queues={name: f"{base}/calsync-{STAGE}-{name}" for name in LIFECYCLE_QUEUES if name in resources},
        bodies_bucket=f"calsync-{STAGE}-deliverybodiesbucket" if "DeliveryBodiesBucket" in resources else None,
        work_dlqs={name: f"{base}/calsync-{STAGE}-{name}" for name in WORK_DLQS if name in resources},
    )


def stack_target(stack_name: str) -> Target:
    import boto3

    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
    }
    queues = {kind: outputs[f"{kind.pascal}QueueUrl"] for kind in QueueKind}
    dlqs = {kind: outputs[f"{kind.pascal}DLQUrl"] for kind in QueueKind}
    return Target(
        None,
        outputs["BookingsTableName"],
        queues,
        dlqs,
        token_prefix=outputs["TokenSecretPrefix"],
        signing_key_prefix=outputs["SigningKeySecretPrefix"],
        oauth_app_secret=outputs["OAuthAppSecretName"],
        api_base=outputs["OAuthCallbackUrl"].removesuffix("/oauth/callback"),
        reconcile_requests_url=outputs.get("ReconcileRequestsQueueUrl", "-"),
        erasure_key_secret=outputs.get("ErasureKeySecretName", ""),
        lifecycle_queues={name: outputs[f"{name}Url"] for name in LIFECYCLE_QUEUES if f"{name}Url" in outputs},
        bodies_bucket=outputs.get("DeliveryBodiesBucketName"),
        work_dlqs={name: outputs[f"{name}Url"] for name in WORK_DLQS if f"{name}Url" in outputs},
    )


def queue_kind(name: str) -> QueueKind | None:
    """A queue as an operator names it: the kind (``invitee-created``) or the template's
    logical id (``InviteeCreatedQueue``)."""
    return next((kind for kind in QueueKind if name in (kind.value, queue_logical_id(kind))), None)


def add_stack_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--stack", help="deployed stack name (default: the local stack)")


def target_from(args: argparse.Namespace) -> Target:
    """The deployed stack named by ``--stack``, or the local stack."""
    return stack_target(args.stack) if getattr(args, "stack", None) else local_target()
