"""The aibox session API: sessions, exec, files, and the compatibility endpoints."""

from __future__ import annotations

import base64
import io
import os
import ssl
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ._transport import Transport
from .exec_stream import ExecStream
from .errors import AiboxError, NotFoundError

DEFAULT_URL = "http://127.0.0.1:7373"


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class FileEntry:
    name: str
    path: str
    type: str
    size: int
    mode: int
    mtime: str


@dataclass
class SessionInfo:
    id: str
    state: str
    profile: str
    created_at: str
    expires_at: str
    idle_expires_at: str
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


class Session:
    """A sandbox with no host folder. Use it as a context manager: it is removed on exit, whatever happened."""

    def __init__(self, client: "AiboxClient", info: SessionInfo) -> None:
        self._client = client
        self.info = info
        self.id = info.id
        self.closed = False

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Session({self.id!r})"

    def close(self) -> None:
        """Removes the session; a session that is already gone (expired, removed) is not an error."""
        if self.closed:
            return
        self.closed = True
        try:
            self._client._t.json("DELETE", f"/v1/sessions/{self.id}")
        except NotFoundError:
            pass

    def refresh(self) -> SessionInfo:
        self.info = _session_info(self._client._t.json("GET", f"/v1/sessions/{self.id}"))
        return self.info

    def exec(
        self,
        cmd: Union[Sequence[str], str],
        *,
        timeout: float = 60,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
    ) -> ExecResult:
        """Runs a command (argv, or a string for /bin/sh -c) and returns its output once it ends or times out."""
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        body: Dict[str, Any] = {"cmd": argv, "timeoutSeconds": timeout, "env": dict(env or {})}
        if workdir is not None:
            body["workdir"] = workdir
        r = self._client._t.json(
            "POST", f"/v1/sessions/{self.id}/exec", json_body=body, timeout=timeout + self._client.timeout
        )
        return ExecResult(
            exit_code=int(r["exitCode"]),
            stdout=r.get("stdout", ""),
            stderr=r.get("stderr", ""),
            timed_out=bool(r.get("timedOut", False)),
            truncated=bool(r.get("truncated", False)),
            duration_ms=float(r.get("durationMs", 0)),
        )

    def exec_stream(
        self,
        cmd: Union[Sequence[str], str],
        *,
        timeout: Optional[float] = None,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
    ) -> ExecStream:
        """Starts a command and streams it (WebSocket): iterate for ("stdout"|"stderr", bytes), write stdin, then
        read ``exit_code``. ``timeout`` (seconds) kills the command then (exit 137, ``timed_out``). While the
        stream is open the session's idle clock does not run out."""
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        spec: Dict[str, Any] = {"cmd": argv, "stdin": True, "env": dict(env or {})}
        if workdir is not None:
            spec["workdir"] = workdir
        if timeout is not None:
            spec["timeoutSeconds"] = timeout
        return ExecStream(self._client._t.websocket(f"/v1/sessions/{self.id}/exec/ws"), spec)

    # files: paths are relative to /workspace (or absolute under it); links are never followed by the daemon

    def write_file(self, path: str, data: Union[bytes, str], *, mode: Optional[int] = None) -> int:
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        r = self._client._t.json(
            "PUT",
            f"/v1/sessions/{self.id}/files",
            query={"path": path, "mode": None if mode is None else format(mode, "04o")},
            body=payload,
            content_type="application/octet-stream",
        )
        return int(r["bytes"])

    def read_file(self, path: str) -> bytes:
        res = self._client._t.open("GET", f"/v1/sessions/{self.id}/files", query={"path": path})
        try:
            return res.read()
        finally:
            res.close()

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return self.read_file(path).decode(encoding)

    def list(self, path: str = ".") -> List[FileEntry]:
        r = self._client._t.json("GET", f"/v1/sessions/{self.id}/files/list", query={"path": path})
        return [FileEntry(e["name"], e["path"], e["type"], e["size"], e["mode"], e["mtime"]) for e in r["entries"]]

    def remove(self, path: str, *, recursive: bool = False) -> None:
        self._client._t.json(
            "DELETE",
            f"/v1/sessions/{self.id}/files",
            query={"path": path, "recursive": "true" if recursive else None},
        )

    def upload_dir(self, local_dir: Union[str, "os.PathLike[str]"], dest: str = ".") -> Dict[str, int]:
        """Sends a local folder as a tar stream; regular files and folders only (links are left out)."""
        buf = io.BytesIO()
        root = Path(local_dir)
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for p in sorted(root.rglob("*")):
                if p.is_symlink() or not (p.is_file() or p.is_dir()):
                    continue
                tar.add(str(p), arcname=p.relative_to(root).as_posix(), recursive=False)
        buf.seek(0)
        r = self._client._t.json(
            "PUT",
            f"/v1/sessions/{self.id}/files/tar",
            query={"path": dest},
            body=buf.getvalue(),
            content_type="application/x-tar",
        )
        return {"files": int(r["files"]), "directories": int(r["directories"]), "bytes": int(r["bytes"])}

    def download_dir(self, path: str, local_dir: Union[str, "os.PathLike[str]"]) -> List[str]:
        """Fetches a folder as a tar and unpacks it under local_dir, refusing any entry that would land outside."""
        res = self._client._t.open("GET", f"/v1/sessions/{self.id}/files/tar", query={"path": path})
        try:
            data = res.read()
        finally:
            res.close()
        dest = Path(local_dir).resolve()
        dest.mkdir(parents=True, exist_ok=True)
        written: List[str] = []
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for m in tar.getmembers():
                rel = PurePosixPath(m.name)
                if rel.is_absolute() or ".." in rel.parts:
                    raise AiboxError("CLIENT_TAR_UNSAFE", f"refusing tar entry {m.name!r}")
                target = dest.joinpath(*rel.parts)
                # a link already in local_dir must not carry an entry elsewhere
                if not _inside(dest, target.parent):
                    raise AiboxError("CLIENT_TAR_UNSAFE", f"refusing tar entry {m.name!r}: it leaves {dest}")
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif m.isfile():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.is_symlink():
                        target.unlink()
                    src = tar.extractfile(m)
                    with open(target, "wb") as out:
                        out.write(src.read() if src else b"")
                    os.chmod(target, m.mode & 0o755)
                    written.append(rel.as_posix())
        return written


class CompatClient:
    """The session-sandbox API programs already use: POST /create_session, /execute, /cleanup."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create_session(self, **options: Any) -> str:
        return str(self._t.json("POST", "/create_session", json_body=dict(options))["session_id"])

    def execute(self, session_id: str, command: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"session_id": session_id, "command": command}
        if timeout is not None:
            body["timeout"] = timeout
        r = self._t.json("POST", "/execute", json_body=body, timeout=(timeout or 60) + self._t.timeout)
        return {"exit_code": int(r["exit_code"]), "output": str(r["output"])}

    def cleanup(self, session_id: str) -> None:
        self._t.json("POST", "/cleanup", json_body={"session_id": session_id})


class AiboxClient:
    """
    A client of aiboxd's network listener. ``base_url`` and ``token`` default to $AIBOX_URL and $AIBOX_TOKEN;
    give ``ssl_context`` (or ``cafile``) to trust a private certificate.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout: float = 120.0,
        ssl_context: Optional[ssl.SSLContext] = None,
        cafile: Optional[str] = None,
    ) -> None:
        if ssl_context is None and cafile:
            ssl_context = ssl.create_default_context(cafile=cafile)
        self.timeout = timeout
        self._t = Transport(
            base_url or os.environ.get("AIBOX_URL", DEFAULT_URL),
            token if token is not None else os.environ.get("AIBOX_TOKEN"),
            timeout,
            ssl_context,
        )
        self.compat = CompatClient(self._t)

    def create_session(
        self,
        *,
        profile: Optional[str] = None,
        ttl_seconds: Optional[int] = None,
        idle_ttl_seconds: Optional[int] = None,
        env: Optional[Mapping[str, str]] = None,
        files: Optional[Mapping[str, Union[bytes, str]]] = None,
    ) -> Session:
        body: Dict[str, Any] = {}
        if profile:
            body["profile"] = profile
        if ttl_seconds:
            body["ttlSeconds"] = ttl_seconds
        if idle_ttl_seconds:
            body["idleTtlSeconds"] = idle_ttl_seconds
        if env:
            body["env"] = dict(env)
        if files:
            body["files"] = [_file_body(p, c) for p, c in files.items()]
        return Session(self, _session_info(self._t.json("POST", "/v1/sessions", json_body=body)))

    def session(self, **kwargs: Any) -> Session:
        """``with client.session() as s:`` — created now, removed when the block ends."""
        return self.create_session(**kwargs)

    def get_session(self, session_id: str) -> Session:
        return Session(self, _session_info(self._t.json("GET", f"/v1/sessions/{session_id}")))

    def list_sessions(self) -> List[SessionInfo]:
        return [_session_info(s) for s in self._t.json("GET", "/v1/sessions")["sessions"]]


def _inside(root: Path, p: Path) -> bool:
    real = p.resolve()
    return real == root or root in real.parents


def _file_body(path: str, content: Union[bytes, str]) -> Dict[str, Any]:
    if isinstance(content, str):
        return {"path": path, "content": content, "encoding": "utf8"}
    return {"path": path, "content": base64.b64encode(content).decode("ascii"), "encoding": "base64"}


def _session_info(r: Mapping[str, Any]) -> SessionInfo:
    return SessionInfo(
        id=str(r["id"]),
        state=str(r.get("state", "")),
        profile=str(r.get("profile", "")),
        created_at=str(r.get("createdAt", "")),
        expires_at=str(r.get("expiresAt", "")),
        idle_expires_at=str(r.get("idleExpiresAt", "")),
        raw=dict(r),
    )
