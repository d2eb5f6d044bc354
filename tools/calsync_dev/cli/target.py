"""Where the resources are: the local stack (the default) or a deployed stack (``--stack``)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

from calsync_dev.events import DEFAULT_LOCAL_KEY

# The subparsers each command module adds its commands to.
type Commands = argparse._SubParsersAction[argparse.ArgumentParser]


@dataclass(frozen=True)
class Target:
    endpoint_url: str | None
    table: str
    queues: dict[str, str]  # source queue logical id -> url
    dlqs: dict[str, str]  # source queue logical id -> its DLQ url
    token_prefix: str = "calsync/local/tokens/"  # noqa: S105 - a secret's name
    signing_key_prefix: str = "calsync/local/signing-keys/"
    oauth_app_secret: str = "calsync/local/oauth-app"  # noqa: S105 - a secret's name
    api_base: str = "http://127.0.0.1:3000"
    calendly_api_url: str = "https://api.calendly.com"
    authorize_url: str = "https://auth.calendly.com/oauth/authorize"

    def session(self) -> Any:
        import boto3

        if self.endpoint_url:
            return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")  # noqa: S106 - emulator
        return boto3.Session()

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)


def local_signing_key() -> str:
    """The local stack's webhook signing key (read when the parser is built, as a default)."""
    return os.environ.get("CALSYNC_LOCAL_SIGNING_KEY", DEFAULT_LOCAL_KEY)


def local_target() -> Target:
    """The local stack's resources, on the host and ports ``calsync local`` reads from the environment."""
    from calsync_dev.local.config import STAGE, LocalConfig
    from calsync_dev.template import load

    config = LocalConfig.from_env()
    resources = load()["Resources"]
    queues: dict[str, str] = {}
    dlqs: dict[str, str] = {}
    base = f"{config.endpoint_url}/123456789012"
    for logical, resource in resources.items():
        policy = resource.get("Properties", {}).get("RedrivePolicy") if resource["Type"] == "AWS::SQS::Queue" else None
        if policy:
            queues[logical] = f"{base}/calsync-{STAGE}-{logical}"
            dlqs[logical] = f"{base}/calsync-{STAGE}-{policy['deadLetterTargetArn']['Fn::GetAtt'][0]}"
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
    )


def stack_target(stack_name: str) -> Target:
    import boto3

    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
    }
    queues = {k.removesuffix("Url"): v for k, v in outputs.items() if k.endswith("QueueUrl")}
    dlqs = {f"{k.removesuffix('DLQUrl')}Queue": v for k, v in outputs.items() if k.endswith("DLQUrl")}
    return Target(
        None,
        outputs["BookingsTableName"],
        queues,
        dlqs,
        token_prefix=outputs["TokenSecretPrefix"],
        signing_key_prefix=outputs["SigningKeySecretPrefix"],
        oauth_app_secret=outputs["OAuthAppSecretName"],
        api_base=outputs["OAuthCallbackUrl"].removesuffix("/oauth/callback"),
    )


def add_stack_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--stack", help="deployed stack name (default: the local stack)")


def target_from(args: argparse.Namespace) -> Target:
    """The deployed stack named by ``--stack``, or the local stack."""
    return stack_target(args.stack) if getattr(args, "stack", None) else local_target()
