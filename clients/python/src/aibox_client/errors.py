"""Errors of the aibox API as typed exceptions carrying the API's stable codes (docs/errors.md)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional


class AiboxError(Exception):
    """An answer outside 2xx: ``code`` is stable (e.g. ``SESSION_NOT_FOUND``), ``hint`` says what to do."""

    def __init__(
        self,
        code: str,
        message: str,
        hint: str = "",
        status: int = 0,
        details: Optional[Mapping[str, Any]] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status
        self.details: Dict[str, Any] = dict(details or {})
        self.retry_after = retry_after


class AuthenticationError(AiboxError):
    """401: no token, or a token that is unknown, expired or revoked."""


class PermissionDeniedError(AiboxError):
    """403: the token lacks the scope, or the resource belongs to someone else."""


class NotFoundError(AiboxError):
    """404: unknown session (or it expired), file or route."""


class ConflictError(AiboxError):
    """409: the resource is not in a state that allows this."""


class PayloadTooLargeError(AiboxError):
    """413: a file or the workspace is over its size cap."""


class RateLimitError(AiboxError):
    """429: too many sessions or requests; ``retry_after`` is in seconds."""


class InvalidRequestError(AiboxError):
    """Another 4xx: fix the request."""


class ServerError(AiboxError):
    """5xx: aiboxd's own fault; see its log."""


class ConnectionFailedError(AiboxError):
    """The daemon could not be reached or closed the connection."""


def error_for(
    status: int,
    code: str,
    message: str,
    hint: str = "",
    details: Optional[Mapping[str, Any]] = None,
    retry_after: Optional[float] = None,
) -> AiboxError:
    cls = {
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        409: ConflictError,
        413: PayloadTooLargeError,
        429: RateLimitError,
    }.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else InvalidRequestError
    return cls(code, message, hint, status, details, retry_after)
