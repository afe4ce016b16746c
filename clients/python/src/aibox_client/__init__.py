"""aibox_client: drive aibox sessions (gVisor sandboxes for programs) with an API token. Standard library only."""

from .client import AiboxClient, CompatClient, ExecResult, FileEntry, Session, SessionInfo
from .exec_stream import ExecStream
from .errors import (
    AiboxError,
    AuthenticationError,
    ConflictError,
    ConnectionFailedError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

__all__ = [
    "AiboxClient",
    "CompatClient",
    "ExecResult",
    "ExecStream",
    "FileEntry",
    "Session",
    "SessionInfo",
    "AiboxError",
    "AuthenticationError",
    "ConflictError",
    "ConnectionFailedError",
    "InvalidRequestError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
]
__version__ = "0.1.0"
