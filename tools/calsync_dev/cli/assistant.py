"""``calsync mcp``: an MCP server over stdio whose read-only tools call the signed /v1 API
(docs/mcp.md). The local stack by default; ``--stack NAME`` for a deployed stack, signed with the
default AWS credentials, so the assistant can do what IAM lets those credentials do and no more.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from calsync_dev.assistant.api import ApiError, SignedApi
from calsync_dev.cli.target import Commands, add_stack_option

# The template's output naming the /v1 API's base URL (the stage's URL).
API_URL_OUTPUT = "ApiUrl"


def register(commands: Commands) -> None:
    command = commands.add_parser(
        "mcp",
        help="an MCP server over stdio for assistants: read-only tools on the signed /v1 API",
        description="Serve MCP over stdin/stdout (an MCP client starts this command). Tools: "
        "list_connections, search_bookings, get_booking, get_event, completeness_report; with "
        "--allow-actions also book, cancel_booking, mark_no_show, clear_no_show (they act in Calendly).",
    )
    command.add_argument(
        "--allow-actions",
        action="store_true",
        help="also expose the tools that book, cancel and mark no-shows in Calendly (docs/actions.md)",
    )
    add_stack_option(command)
    command.set_defaults(func=_mcp)


def local_api() -> SignedApi:
    """The local stack's API (its host and port from the environment, as ``calsync local`` reads
    them), signed with the local stack's credentials."""
    from botocore.credentials import Credentials

    from calsync_dev.local.config import CREDENTIALS, REGION, LocalConfig

    credentials = Credentials(CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    return SignedApi(LocalConfig.from_env().api_url, REGION, credentials)


def api_url(outputs: Mapping[str, str]) -> str:
    """The API's base URL from a stack's outputs (a stack deployed before ``ApiUrl`` existed: the
    OAuth callback's URL, which lives on the same stage)."""
    if API_URL_OUTPUT in outputs:
        return outputs[API_URL_OUTPUT]
    return outputs["OAuthCallbackUrl"].removesuffix("/oauth/callback")


def stack_api(stack_name: str, session: Any = None) -> SignedApi:
    """A deployed stack's API, signed with ``session``'s (default: boto3's default) credentials and region."""
    import boto3

    session = session or boto3.Session()
    if not session.region_name:
        raise ApiError("no AWS region to find the stack in: set AWS_DEFAULT_REGION or a profile's region")
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return SignedApi(api_url(outputs), session.region_name, session.get_credentials())


def _mcp(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from calsync_dev.assistant.server import build_server

    try:
        api = stack_api(args.stack) if args.stack else local_api()
    except (ApiError, BotoCoreError, ClientError) as exc:  # before serving: the client shows stderr
        print(f"calsync mcp: cannot find the API of stack {args.stack}: {exc}", file=sys.stderr)
        return 1
    build_server(api, allow_actions=args.allow_actions).run("stdio")
    return 0
