"""A tiny in-process stand-in for aiboxd's session API, recording what the client sent."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

TOKEN = "aibox_tok_0123456789ab_" + "A" * 43


class FakeAiboxd:
    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.sessions: Dict[str, Dict[str, bytes]] = {}
        self.next_error: Optional[Tuple[int, str, Dict[str, str]]] = None
        self.tar_to_serve: Optional[bytes] = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("content-length") or 0)
                return self.rfile.read(n) if n else b""

            def _send(self, status: int, body: Any, ctype: str = "application/json", headers: Optional[Dict[str, str]] = None) -> None:
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, status: int, code: str, headers: Optional[Dict[str, str]] = None) -> None:
                self._send(status, {"error": {"code": code, "message": code.lower(), "hint": "a hint"}}, headers=headers)

            def _handle(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = self._body()
                fake.requests.append({
                    "method": self.command, "path": url.path, "query": query, "body": body,
                    "auth": self.headers.get("authorization"), "ctype": self.headers.get("content-type"),
                })
                if self.headers.get("authorization") != f"Bearer {TOKEN}":
                    return self._error(401, "TOKEN_INVALID")
                if fake.next_error:
                    status, code, headers = fake.next_error
                    fake.next_error = None
                    return self._error(status, code, headers)
                parts = url.path.strip("/").split("/")
                js = json.loads(body) if body and self.headers.get("content-type") == "application/json" else {}
                if url.path == "/v1/sessions" and self.command == "POST":
                    sid = f"ses_{len(fake.sessions):012x}"
                    fake.sessions[sid] = {f["path"]: f["content"].encode() for f in js.get("files", [])}
                    return self._send(201, _report(sid))
                if url.path == "/v1/sessions" and self.command == "GET":
                    return self._send(200, {"sessions": [_report(s) for s in fake.sessions]})
                if url.path == "/create_session":
                    sid = f"ses_{len(fake.sessions):012x}"
                    fake.sessions[sid] = {}
                    return self._send(200, {"session_id": sid})
                if url.path == "/execute":
                    if js["session_id"] not in fake.sessions:
                        return self._error(404, "SESSION_NOT_FOUND")
                    return self._send(200, {"exit_code": 0, "output": f"ran: {js['command']}\n"})
                if url.path == "/cleanup":
                    if fake.sessions.pop(js["session_id"], None) is None:
                        return self._error(404, "SESSION_NOT_FOUND")
                    return self._send(200, {"session_id": js["session_id"], "status": "cleaned"})
                if len(parts) >= 3 and parts[:2] == ["v1", "sessions"]:
                    sid = parts[2]
                    if sid not in fake.sessions:
                        return self._error(404, "SESSION_NOT_FOUND")
                    files = fake.sessions[sid]
                    rest = "/".join(parts[3:])
                    if rest == "" and self.command == "DELETE":
                        del fake.sessions[sid]
                        return self._send(200, {"removed": sid})
                    if rest == "" and self.command == "GET":
                        return self._send(200, _report(sid))
                    if rest == "exec":
                        argv = js["cmd"]
                        return self._send(200, {"exitCode": 3 if "fail" in argv[-1] else 0, "stdout": " ".join(argv), "stderr": "", "truncated": False, "timedOut": False, "durationMs": 5})
                    if rest == "files" and self.command == "PUT":
                        files[query["path"]] = body
                        return self._send(200, {"path": query["path"], "bytes": len(body)})
                    if rest == "files" and self.command == "GET":
                        if query["path"] not in files:
                            return self._error(404, "SESSION_PATH_NOT_FOUND")
                        return self._send(200, files[query["path"]], "application/octet-stream")
                    if rest == "files" and self.command == "DELETE":
                        files.pop(query["path"], None)
                        return self._send(200, {"removed": query["path"]})
                    if rest == "files/list":
                        entries = [{"name": p, "path": p, "type": "file", "size": len(c), "mode": 420, "mtime": "2026-01-01T00:00:00Z"} for p, c in sorted(files.items())]
                        return self._send(200, {"path": query["path"], "entries": entries})
                    if rest == "files/tar" and self.command == "PUT":
                        with tarfile.open(fileobj=io.BytesIO(body), mode="r:") as tar:
                            n = 0
                            for m in tar.getmembers():
                                if m.isfile():
                                    f = tar.extractfile(m)
                                    files[f"{query['path']}/{m.name}"] = f.read() if f else b""
                                    n += 1
                        return self._send(200, {"path": query["path"], "files": n, "directories": 0, "bytes": len(body)})
                    if rest == "files/tar" and self.command == "GET":
                        return self._send(200, fake.tar_to_serve or b"", "application/x-tar")
                return self._error(404, "API_ROUTE_NOT_FOUND")

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=lambda: self.server.serve_forever(poll_interval=0.05), daemon=True)

    def __enter__(self) -> "FakeAiboxd":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _report(sid: str) -> Dict[str, Any]:
    return {"id": sid, "state": "running", "profile": "session", "createdAt": "t0", "lastActivityAt": "t0",
            "expiresAt": "t1", "idleExpiresAt": "t1", "owner": "tok_0123456789ab", "warm": False}
