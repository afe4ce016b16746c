"""HTTP over http.client (standard library only): JSON in and out, raw bodies for files, errors as AiboxError."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import IO, Any, Dict, Iterator, Mapping, Optional, Union
from urllib.parse import urlencode, urlsplit

from ._websocket import WebSocket, connect as ws_connect
from .errors import AiboxError, ConnectionFailedError, error_for

Body = Union[bytes, IO[bytes], None]


class Transport:
    """One connection per request: simple, safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        token: Optional[str],
        timeout: float = 120.0,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port], not {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.ssl_context = ssl_context

    def _connection(self, timeout: Optional[float]) -> http.client.HTTPConnection:
        t = self.timeout if timeout is None else timeout
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=t, context=self.ssl_context or ssl.create_default_context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=t)

    def _headers(self, extra: Optional[Mapping[str, str]]) -> Dict[str, str]:
        headers = {"accept": "application/json, application/octet-stream, application/x-tar"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def open(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        json_body: Any = None,
        body: Body = None,
        content_type: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> http.client.HTTPResponse:
        """Sends a request; returns the response when it is 2xx, raises the API's error otherwise."""
        url = self.prefix + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        extra: Dict[str, str] = {}
        payload: Body = body
        if json_body is not None:
            payload = json.dumps(json_body).encode("utf-8")
            extra["content-type"] = "application/json"
        elif content_type:
            extra["content-type"] = content_type
        conn = self._connection(timeout)
        try:
            if payload is not None and not isinstance(payload, (bytes, bytearray)):
                # a file object: sent chunked (its length is not known up front)
                conn.request(method, url, body=_chunks(payload), headers=self._headers(extra), encode_chunked=True)
            else:
                conn.request(method, url, body=payload, headers=self._headers(extra))
            res = conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise ConnectionFailedError(
                "DAEMON_UNREACHABLE", f"cannot reach aiboxd at {self.scheme}://{self.host}:{self.port}: {err}",
                "Check the URL, that aiboxd's network listener is enabled, and the network in between.",
            ) from err
        if 200 <= res.status < 300:
            return res
        raw = res.read()
        conn.close()
        raise _error_from(res.status, raw, res.getheader("retry-after"))

    def websocket(self, path: str, timeout: Optional[float] = None) -> "WebSocket":
        """Opens a WebSocket on `path` with the token; a refusal before the upgrade raises the API's error."""
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return ws_connect(
            self.scheme,
            self.host,
            self.port,
            self.prefix + path,
            headers,
            self.timeout if timeout is None else timeout,
            self.ssl_context,
            _error_from,
        )

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        res = self.open(method, path, **kwargs)
        try:
            raw = res.read()
        finally:
            res.close()
        return json.loads(raw.decode("utf-8")) if raw else None


def _chunks(f: IO[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    while True:
        chunk = f.read(size)
        if not chunk:
            return
        yield chunk


def _error_from(status: int, raw: bytes, retry_after: Optional[str]) -> AiboxError:
    retry: Optional[float] = None
    if retry_after is not None:
        try:
            retry = float(retry_after)
        except ValueError:
            retry = None
    try:
        body = json.loads(raw.decode("utf-8"))
        err = body["error"]
        return error_for(
            status, str(err["code"]), str(err["message"]), str(err.get("hint", "")), err.get("details"), retry
        )
    except (ValueError, KeyError, TypeError):
        return error_for(status, "DAEMON_BAD_RESPONSE", f"HTTP {status} without an aibox error body", "", None, retry)
