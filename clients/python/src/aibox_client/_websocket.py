"""A minimal WebSocket client (RFC 6455) over the standard library, for streaming exec.

Only what aiboxd's exec stream needs: one connection, masked client frames, text and binary messages (fragmented
ones reassembled), ping answered with pong, close. No extensions, no compression.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import struct
import threading
from typing import Callable, Dict, Optional, Tuple

from .errors import AiboxError, ConnectionFailedError

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_MESSAGE = 64 * 1024 * 1024

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class WebSocket:
    """A connected WebSocket. `send_*` may be called from another thread than `recv`."""

    def __init__(self, sock: socket.socket, leftover: bytes = b"") -> None:
        self._sock = sock
        self._buf = bytearray(leftover)
        self._send_lock = threading.Lock()
        self.closed = False

    # sending

    def send_text(self, text: str) -> None:
        self._send(OP_TEXT, text.encode("utf-8"))

    def send_binary(self, data: bytes) -> None:
        self._send(OP_BINARY, data)

    def close(self, code: int = 1000) -> None:
        if self.closed:
            return
        try:
            self._send(OP_CLOSE, struct.pack("!H", code))
        except OSError:
            pass
        self.closed = True
        try:
            self._sock.close()
        except OSError:
            pass

    def _send(self, opcode: int, payload: bytes) -> None:
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        mask = os.urandom(4)
        header += mask
        masked = _mask(payload, mask)
        with self._send_lock:
            if self.closed:
                raise ConnectionFailedError("WEBSOCKET_CLOSED", "the stream is closed", "Start a new exec stream.")
            self._sock.sendall(bytes(header) + masked)

    # receiving

    def recv(self) -> Optional[Tuple[int, bytes]]:
        """The next message as (opcode, payload): OP_TEXT or OP_BINARY; None once the peer closed."""
        message = bytearray()
        opcode = None
        while True:
            frame = self._frame()
            if frame is None:
                return None
            fin, op, payload = frame
            if op == OP_PING:
                self._send(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                self.close()
                return None
            if op != OP_CONT:
                opcode = op
            message += payload
            if len(message) > _MAX_MESSAGE:
                raise ConnectionFailedError("WEBSOCKET_PROTOCOL", "message too large", "")
            if fin and opcode is not None:
                return opcode, bytes(message)

    def _frame(self) -> Optional[Tuple[bool, int, bytes]]:
        head = self._read(2)
        if head is None:
            return None
        fin = bool(head[0] & 0x80)
        opcode = head[0] & 0x0F
        masked = bool(head[1] & 0x80)
        n = head[1] & 0x7F
        if n == 126:
            ext = self._read(2)
            n = struct.unpack("!H", ext)[0] if ext else 0
        elif n == 127:
            ext = self._read(8)
            n = struct.unpack("!Q", ext)[0] if ext else 0
        if n > _MAX_MESSAGE:
            raise ConnectionFailedError("WEBSOCKET_PROTOCOL", "frame too large", "")
        mask = self._read(4) if masked else None
        payload = self._read(n) if n else b""
        if payload is None:
            return None
        if mask:
            payload = _mask(payload, mask)
        return fin, opcode, payload

    def _read(self, n: int) -> Optional[bytes]:
        while len(self._buf) < n:
            try:
                chunk = self._sock.recv(max(65536, n - len(self._buf)))
            except OSError:
                chunk = b""
            if not chunk:
                return None
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


def _mask(payload: bytes, mask: bytes) -> bytes:
    # XOR with the repeated 4-byte key, a whole buffer at a time (int arithmetic is far faster than per byte)
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def connect(
    scheme: str,
    host: str,
    port: int,
    path: str,
    headers: Dict[str, str],
    timeout: Optional[float],
    ssl_context: Optional[ssl.SSLContext],
    error_from: Callable[[int, bytes, Optional[str]], AiboxError],
) -> WebSocket:
    """Opens the connection and upgrades it; a refusal before the upgrade raises the API's error."""
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
        sock: socket.socket = raw
        if scheme == "https":
            sock = (ssl_context or ssl.create_default_context()).wrap_socket(raw, server_hostname=host)
    except OSError as err:
        raise ConnectionFailedError(
            "DAEMON_UNREACHABLE",
            f"cannot reach aiboxd at {scheme}://{host}:{port}: {err}",
            "Check the URL, that aiboxd's network listener is enabled, and the network in between.",
        ) from err
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ] + [f"{k}: {v}" for k, v in headers.items()]
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk or len(buf) > 65536:
                raise ConnectionFailedError("DAEMON_BAD_RESPONSE", "the upgrade answer was cut short", "")
            buf += chunk
    except OSError as err:
        sock.close()
        raise ConnectionFailedError("DAEMON_CONNECTION_LOST", f"the upgrade failed: {err}", "") from err
    head, _, rest = buf.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answer = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    try:
        status = int(status_line.split(" ")[1])
    except (IndexError, ValueError):
        sock.close()
        raise ConnectionFailedError("DAEMON_BAD_RESPONSE", f"not an HTTP answer: {status_line[:80]!r}", "")
    if status != 101:
        body = rest
        length = int(answer.get("content-length", "0") or 0)
        try:
            while len(body) < length:
                chunk = sock.recv(length - len(body))
                if not chunk:
                    break
                body += chunk
        except OSError:
            pass
        sock.close()
        raise error_from(status, body, answer.get("retry-after"))
    accept = base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode("ascii")
    if answer.get("sec-websocket-accept") != accept:
        sock.close()
        raise ConnectionFailedError("DAEMON_BAD_RESPONSE", "the WebSocket upgrade was not acknowledged", "")
    sock.settimeout(None)
    return WebSocket(sock, rest)


__all__ = ["WebSocket", "connect", "AiboxError"]
