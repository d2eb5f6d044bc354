"""``POST /v1/connections``' body: ``{"connection_id", "return_to"?}``, strictly. Anything else
(not JSON, not an object, a wrong type, an unknown field, too large, not UTF-8) is a 400 naming
the parameter; the values' shapes are checked by ``connect.begin_oauth``."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from calsync.connections.connect import ConnectError

MAX_BODY_BYTES = 4096  # a connection id and a URL of at most 2048 characters


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    connection_id: str
    return_to: str | None = None


def _refuse(parameter: str, message: str) -> ConnectError:
    return ConnectError(400, "bad_request", message, parameter=parameter)


def parse_start_request(body: str | None, *, is_base64: bool = False) -> StartRequest:
    raw: bytes | str = body or ""
    if is_base64:
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise _refuse("body", "the body is not valid base64") from None
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > MAX_BODY_BYTES:
        raise _refuse("body", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        parsed: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _refuse("body", 'the body must be JSON: {"connection_id": "...", "return_to": "https://..."}') from None
    if not isinstance(parsed, dict):
        raise _refuse("body", 'the body must be a JSON object: {"connection_id": "...", "return_to": "https://..."}')
    try:
        return StartRequest.model_validate(parsed)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "body"
        if error["type"] == "extra_forbidden":
            raise _refuse(name[:64], "unknown field: the body takes connection_id and return_to only") from None
        if error["type"] == "missing":
            raise _refuse(name, f"{name} is required") from None
        raise _refuse(name, f"{name} must be a string") from None
