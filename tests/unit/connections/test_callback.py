"""The OAuth callback's HTTP edges: the base URL the caller reached, and the answer's shape."""

from __future__ import annotations

import json

from calsync.connections.callback import api_base, asks_for_json, page


def test_the_execute_api_host_keeps_its_stage_and_a_custom_domain_does_not() -> None:
    # Given the same request reaching API Gateway's own host and a custom domain
    own = {"requestContext": {"domainName": "abc.execute-api.eu-west-1.amazonaws.com", "stage": "prod"}}
    custom = {"requestContext": {"domainName": "hooks.example.com", "stage": "prod"}}
    # Then only the execute-api URL needs the stage in its path
    assert api_base(own) == "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
    assert api_base(custom) == "https://hooks.example.com"
    # And the local stack's plain HTTP host comes from its headers
    local = {"headers": {"Host": "127.0.0.1:3000", "X-Forwarded-Proto": "http"}}
    assert api_base(local) == "http://127.0.0.1:3000"


def test_a_caller_asking_for_json_gets_json_and_a_browser_a_page_with_the_text_escaped() -> None:
    assert asks_for_json({"headers": {"Accept": "application/json"}})
    assert not asks_for_json({"headers": {"Accept": "text/html"}})
    refused = page(400, "Not connected", "<b>denied</b>", "access_denied", wants_json=True)
    assert refused["statusCode"] == 400
    assert json.loads(refused["body"]) == {"error": "access_denied", "message": "<b>denied</b>"}
    html = page(400, "Not connected", "<b>denied</b>", "access_denied", wants_json=False)
    assert "&lt;b&gt;denied&lt;/b&gt;" in html["body"]
    assert html["headers"]["Content-Type"].startswith("text/html")
