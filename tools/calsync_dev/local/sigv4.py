"""API Gateway's IAM (``AWS_IAM``) check for the local stack: a SigV4 signature recomputed with
botocore for the local stack's own credentials, the date within ±5 minutes of the (injected)
clock, the signed headers and the payload hash; API Gateway's 403 bodies when it fails, and the
``requestContext.identity`` fields API Gateway fills for a signed call."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

SERVICE = "execute-api"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
MAX_SKEW = timedelta(minutes=5)  # API Gateway refuses a signature more than 5 minutes off
ACCOUNT_ID = "123456789012"  # the account the local stack's events name (calsync_dev.events)

MISSING_TOKEN = "Missing Authentication Token"  # noqa: S105 - API Gateway's message, not a secret
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret"
    " Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105 - a message


@dataclass(frozen=True)
class Refusal:
    """API Gateway's 403 for a call it does not let through (``x-amzn-ErrorType`` header and body)."""

    error_type: str
    message: str
    status: int = 403

    @property
    def headers(self) -> dict[str, str]:
        return {"x-amzn-ErrorType": self.error_type}


@dataclass(frozen=True)
class Caller:
    """Who signed: what API Gateway puts in ``requestContext.identity`` for an IAM user."""

    access_key: str
    user_name: str
    account_id: str = ACCOUNT_ID

    @property
    def user_id(self) -> str:
        return "AIDA" + hashlib.sha256(self.user_name.encode()).hexdigest()[:17].upper()

    def identity(self) -> dict[str, Any]:
        return {
            "accessKey": self.access_key,
            "accountId": self.account_id,
            "caller": self.user_id,
            "user": self.user_id,
            "userArn": f"arn:aws:iam::{self.account_id}:user/{self.user_name}",
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
        }


_AUTH = re.compile(r"^AWS4-HMAC-SHA256\s+(?P<params>.+)$", re.DOTALL)


class _Recompute(SigV4Auth):
    """botocore's SigV4 over exactly the headers the caller says it signed and the body's real hash."""

    def __init__(self, credentials: Credentials, region: str, signed: list[str], body_hash: str) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed
        self._body_hash = body_hash

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                chosen[name] = value
        return chosen

    def payload(self, request: AWSRequest) -> str:
        return self._body_hash

    def canonical_query_string(self, request: AWSRequest) -> str:
        return canonical_query(str(urlsplit(str(request.url)).query))


def canonical_query(query: str) -> str:
    """SigV4's canonical query as the service computes it from what arrived: each name and value
    decoded, then percent-encoded (all but ``-_.~``; ``+`` is a plus, a space is ``%20``), sorted."""
    pairs = []
    for pair in query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def encoded_url(url: str) -> str:
    """``url`` with its query in SigV4's encoding (order kept), so that what is signed is what is sent."""
    parts = urlsplit(url)
    pairs = []
    for pair in parts.query.split("&"):
        if pair:
            name, sep, value = pair.partition("=")
            pairs.append(quote(unquote(name), safe="-_.~") + sep + quote(unquote(value), safe="-_.~"))
    return urlunsplit(parts._replace(query="&".join(pairs)))


@dataclass
class SigV4Verifier:
    """Checks a request as API Gateway checks an ``AWS_IAM`` method: ``verify`` gives the caller,
    or the 403 API Gateway would answer."""

    region: str
    credentials: Mapping[str, tuple[str, str]]  # access key id -> (secret access key, IAM user name)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def verify(
        self, method: str, url: str, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes
    ) -> Caller | Refusal:
        """``url`` as the caller addressed it (scheme, the Host header, the raw path and query)."""
        lowered = HTTPHeaders()
        for name, value in headers.items() if isinstance(headers, Mapping) else headers:
            lowered[name.lower()] = value
        authorization = lowered.get("authorization")
        if not authorization:
            return Refusal("MissingAuthenticationTokenException", MISSING_TOKEN)
        params = _auth_params(authorization)
        missing = [p for p in ("Credential", "SignedHeaders", "Signature") if p not in params]
        if missing:
            text = " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
            return Refusal("IncompleteSignatureException", f"{text} Authorization={authorization}")
        scope = params["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            return Refusal("IncompleteSignatureException", f"Credential is malformed: {params['Credential']}")
        access_key, day, region, service, _ = scope
        amz_date = lowered.get("x-amz-date") or ""
        signed_at = _parse_amz_date(amz_date)
        if signed_at is None:
            return Refusal(
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            )
        now = self.clock()
        if signed_at < now - MAX_SKEW:
            return Refusal(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {_amz(now - MAX_SKEW)} ({_amz(now)} - 5 min.)",
            )
        if signed_at > now + MAX_SKEW:
            return Refusal(
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than {_amz(now + MAX_SKEW)}"
                f" ({_amz(now)} + 5 min.)",
            )
        if access_key not in self.credentials:
            return Refusal("UnrecognizedClientException", INVALID_TOKEN)
        if region != self.region:
            return Refusal("InvalidSignatureException", "Credential should be scoped to a valid region. ")
        if service != SERVICE:
            return Refusal(
                "InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'. "
            )
        signed = [h.strip().lower() for h in params["SignedHeaders"].split(";") if h.strip()]
        if "host" not in signed or day != amz_date[:8]:
            return Refusal("InvalidSignatureException", MISMATCH)
        body_hash = hashlib.sha256(body).hexdigest()
        claimed = lowered.get("x-amz-content-sha256")
        if claimed is not None and claimed != body_hash:
            return Refusal("InvalidSignatureException", MISMATCH)
        secret, user_name = self.credentials[access_key]
        request = AWSRequest(method=method.upper(), url=url, data=body)
        request.headers = lowered
        request.context["timestamp"] = amz_date
        signer = _Recompute(Credentials(access_key, secret), self.region, signed, body_hash)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        if not hmac.compare_digest(expected, params["Signature"].strip()):
            return Refusal(
                "InvalidSignatureException",
                f"{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
                f"The String-to-Sign should have been\n'{string_to_sign}'\n",
            )
        return Caller(access_key=access_key, user_name=user_name)


def _auth_params(authorization: str) -> dict[str, str]:
    found = _AUTH.match(authorization.strip())
    if found is None:
        return {}
    params: dict[str, str] = {}
    for part in found.group("params").split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            params[key.strip()] = value.strip()
    return params


def _parse_amz_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        return None


def _amz(at: datetime) -> str:
    return at.astimezone(UTC).strftime(AMZ_DATE)
