"""Streaming exec: a command's stdout and stderr as they come, stdin as you send it (the exec WebSocket)."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, Optional, Tuple, Union

from ._websocket import OP_BINARY, OP_TEXT, WebSocket
from .errors import AiboxError, ConnectionFailedError, error_for

STDIN, STDOUT, STDERR = 0, 1, 2
_NAMES = {STDOUT: "stdout", STDERR: "stderr"}


class ExecStream:
    """A running command. Iterate it for ``(stream, bytes)`` pairs, ``stream`` being "stdout" or "stderr"; the
    iteration ends when the command does, then ``exit_code`` (and ``timed_out``) are set. ``write`` sends stdin
    (from any thread), ``close_stdin`` sends EOF. A refusal (policy, unknown session) raises the API's error.
    Use it as a context manager: leaving the block disconnects, which ends the command's stdin.

        with session.exec_stream(["python3", "-u", "train.py"]) as run:
            for stream, data in run:
                print(stream, data.decode(), end="")
        print(run.exit_code)
    """

    def __init__(self, ws: WebSocket, spec: Dict[str, Any]) -> None:
        self._ws = ws
        self.exit_code: Optional[int] = None
        self.timed_out = False
        ws.send_text(json.dumps({"type": "start", "spec": spec}))

    def __enter__(self) -> "ExecStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, data: Union[bytes, str]) -> None:
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        # large writes go in pieces so one message never dominates the connection
        for i in range(0, max(len(payload), 1), 1 << 20):
            self._ws.send_binary(bytes([STDIN]) + payload[i : i + (1 << 20)])

    def close_stdin(self) -> None:
        self._ws.send_text(json.dumps({"type": "stdin-eof"}))

    def close(self) -> None:
        self._ws.close()

    def __iter__(self) -> Iterator[Tuple[str, bytes]]:
        while True:
            message = self._ws.recv()
            if message is None:
                if self.exit_code is None:
                    raise ConnectionFailedError(
                        "DAEMON_CONNECTION_LOST",
                        "the exec stream closed before the command ended",
                        "Check the session still exists (it may have expired) and aiboxd is running.",
                    )
                return
            opcode, payload = message
            if opcode == OP_BINARY and payload and payload[0] in _NAMES:
                yield _NAMES[payload[0]], payload[1:]
            elif opcode == OP_TEXT:
                control = json.loads(payload.decode("utf-8"))
                if control.get("type") == "exit":
                    self.exit_code = int(control["exitCode"])
                    self.timed_out = bool(control.get("timedOut", False))
                elif control.get("type") == "error":
                    err = control.get("error") or {}
                    self._ws.close()
                    raise _stream_error(str(err.get("code", "RUNTIME_EXEC")), str(err.get("message", "")), str(err.get("hint", "")))

    def wait(self) -> int:
        """Reads to the end (dropping the output) and returns the exit code."""
        for _ in self:
            pass
        assert self.exit_code is not None
        return self.exit_code

    def lines(self, stream: str = "stdout", encoding: str = "utf-8") -> Iterator[str]:
        """The lines of one stream as they complete (the other stream is dropped); the last may lack its newline."""
        pending = b""
        for name, data in self:
            if name != stream:
                continue
            pending += data
            *done, pending = pending.split(b"\n")
            for line in done:
                yield line.decode(encoding, errors="replace") + "\n"
        if pending:
            yield pending.decode(encoding, errors="replace")


_STATUS = {
    "SESSION_NOT_FOUND": 404,
    "SANDBOX_NOT_RUNNING": 409,
    "POLICY_DENIED": 403,
    "API_INVALID_REQUEST": 400,
    "EXEC_WORKDIR_NOT_FOUND": 400,
}


def _stream_error(code: str, message: str, hint: str) -> AiboxError:
    # the stream's error message carries no HTTP status: the code's usual one picks the exception class
    return error_for(_STATUS.get(code, 502), code, message, hint, None, None)
