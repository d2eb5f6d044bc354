"""Calendly's failures as calsync exceptions: pure (no httpx), so domain code can catch them."""

from __future__ import annotations

from collections.abc import Iterable

from calsync.calendly.bodies import ErrorDetail
from calsync.errors import CalsyncError


class CalendlyError(CalsyncError):
    """A Calendly call failed. ``status`` is the HTTP status (``None`` when no answer came)."""

    def __init__(self, status: int | None, title: str, message: str, details: Iterable[ErrorDetail] = ()) -> None:
        self.status = status
        self.title = title
        self.message = message
        self.details = tuple(details)
        super().__init__(f"{status if status is not None else 'no response'} {title}: {message}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, title={self.title!r}, message={self.message!r})"


class CalendlyAuthError(CalendlyError):
    """401: the access token is invalid, expired or revoked (even after one refetch)."""


class CalendlyPermissionError(CalendlyError):
    """403: not allowed, or the plan does not include the feature."""


class CalendlyNotFound(CalendlyError):
    """404: no such resource (or not visible to this token)."""


class CalendlyConflict(CalendlyError):
    """409: e.g. ``Hook with this url already exists``."""


class CalendlyRateLimited(CalendlyError):
    """429 still answered after every wait; ``retry_after`` is the last ``X-RateLimit-Reset`` (s)."""

    def __init__(
        self,
        status: int | None,
        title: str,
        message: str,
        details: Iterable[ErrorDetail] = (),
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, title, message, details)
        self.retry_after = retry_after


class CalendlyUnavailable(CalendlyError):
    """5xx answers or network errors outlasted every retry; the call may succeed later."""


class TokenOutcomeUnknown(CalendlyUnavailable):
    """The token request was sent and no usable answer came (read timeout, dropped connection,
    5xx): Calendly may have processed it, so a single-use refresh token or code may be spent.
    Never re-sent by the client."""


class TokenResponseInvalid(CalendlyError):
    """The token endpoint answered 2xx with a body that is not a token response: the grant
    was used, and the new tokens cannot be read."""


class OAuthError(CalendlyError):
    """The OAuth token endpoint refused the request: ``{error, error_description}``."""

    def __init__(self, status: int | None, error: str, error_description: str | None) -> None:
        super().__init__(status, error, error_description or "")
        self.error = error
        self.error_description = error_description


class InvalidGrant(OAuthError):
    """``invalid_grant``: the code or refresh token is invalid, expired, revoked or already used."""


ERROR_BY_STATUS: dict[int, type[CalendlyError]] = {
    401: CalendlyAuthError,
    403: CalendlyPermissionError,
    404: CalendlyNotFound,
    409: CalendlyConflict,
}
