"""Where ``calsync mcp`` sends its signed calls: the local stack's API by default, a deployed
stack's ``ApiUrl`` output with ``--stack`` (signed with that session's credentials and region)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.credentials import Credentials

from calsync_dev.assistant.api import ApiError, SignedApi
from calsync_dev.cli import build_parser
from calsync_dev.cli.assistant import api_url, local_api, stack_api
from calsync_dev.template import load


def test_the_local_stack_is_the_default_on_the_port_calsync_local_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the local stack runs its API on another port
    monkeypatch.setenv("CALSYNC_API_PORT", "3999")
    # When calsync mcp is started without --stack
    args = build_parser().parse_args(["mcp"])
    api = local_api()
    # Then it calls that API, signing with the local stack's credentials in its region
    assert args.stack is None
    assert api.base_url == "http://127.0.0.1:3999"
    assert api.region == "us-east-1"
    assert api.credentials is not None
    assert (api.credentials.access_key, api.credentials.secret_key) == ("local", "local")


class FakeSession:
    region_name = "eu-west-1"

    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs
        self.asked: list[str] = []

    def get_credentials(self) -> Credentials:
        return Credentials("AKIDEXAMPLE", "secret", "token")

    def client(self, service: str) -> Any:
        assert service == "cloudformation"
        session = self

        class CloudFormation:
            def describe_stacks(self, StackName: str) -> dict[str, Any]:
                session.asked.append(StackName)
                return {
                    "Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in session.outputs.items()]}]
                }

        return CloudFormation()


def test_a_deployed_stack_is_reached_at_its_api_url_output_with_the_sessions_credentials() -> None:
    # Given a deployed stack's outputs
    session = FakeSession({"ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"})
    # When calsync mcp --stack calsync-prod resolves its API
    api = stack_api("calsync-prod", session)
    # Then it signs with the session's credentials and region, for that stage's URL
    assert session.asked == ["calsync-prod"]
    assert api.base_url == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    assert api.region == "eu-west-1"
    assert api.credentials is not None
    assert api.credentials.token == "token"


def test_without_a_region_the_stack_is_not_looked_up_and_the_reason_is_said() -> None:
    session = FakeSession({})
    session.region_name = None  # type: ignore[assignment]
    with pytest.raises(ApiError, match="AWS_DEFAULT_REGION"):
        stack_api("calsync-prod", session)
    assert session.asked == []


def test_a_stack_deployed_before_api_url_existed_is_found_from_its_oauth_callback() -> None:
    outputs = {"OAuthCallbackUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/oauth/callback"}
    assert api_url(outputs) == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"


def test_the_template_publishes_the_api_url_as_the_stage_url() -> None:
    # The output calsync mcp --stack reads is the stage's URL, the base the OAuth callback hangs from
    outputs = load()["Outputs"]
    stage_url = outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert stage_url.endswith("/${Stage}")
    assert outputs["OAuthCallbackUrl"]["Value"]["Fn::Sub"] == stage_url + "/oauth/callback"


def test_urls_quote_ids_and_filters_and_refuse_dot_segments() -> None:
    api = SignedApi("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/", "eu-west-1", None)
    url = api.url(("connections", "acme", "bookings"), {"email": "a+b c@x.com", "status": None, "limit": 5})
    assert (
        url
        == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/connections/acme/bookings?email=a%2Bb%20c%40x.com&limit=5"
    )
    assert api.url(("connections", "a/b")).endswith("/v1/connections/a%2Fb")
    with pytest.raises(ApiError):
        api.url(("connections", ".."))
    # And without credentials nothing is sent: a clear error instead
    with pytest.raises(ApiError, match="no AWS credentials"):
        api.get(("connections",))
