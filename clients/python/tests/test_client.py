import io
import json
import os
import socket
import tarfile
import tempfile
import unittest
from pathlib import Path

from aibox_client import (
    AiboxClient,
    AiboxError,
    AuthenticationError,
    ConnectionFailedError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
)

from .fake_server import TOKEN, FakeAiboxd


class ClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.fake = FakeAiboxd().__enter__()
        self.client = AiboxClient(self.fake.url, TOKEN)

    def tearDown(self) -> None:
        self.fake.__exit__()

    def last(self, method: str, path: str):
        return [r for r in self.fake.requests if r["method"] == method and r["path"] == path][-1]

    def test_session_context_manager_creates_with_options_and_removes_even_on_error(self) -> None:
        with self.assertRaises(RuntimeError):
            with self.client.session(ttl_seconds=30, env={"A": "1"}, files={"in.txt": "hello"}) as s:
                self.assertTrue(s.id.startswith("ses_"))
                self.assertEqual(s.read_file("in.txt"), b"hello")
                raise RuntimeError("boom")
        body = json.loads(self.last("POST", "/v1/sessions")["body"])
        self.assertEqual(body, {"ttlSeconds": 30, "env": {"A": "1"}, "files": [{"path": "in.txt", "content": "hello", "encoding": "utf8"}]})
        self.assertEqual(self.last("DELETE", f"/v1/sessions/{s.id}")["auth"], f"Bearer {TOKEN}")
        self.assertEqual(self.fake.sessions, {})

    def test_close_of_an_expired_session_is_quiet(self) -> None:
        s = self.client.create_session()
        self.fake.sessions.clear()
        s.close()
        s.close()
        self.assertEqual(len([r for r in self.fake.requests if r["method"] == "DELETE"]), 1)

    def test_exec_runs_argv_or_a_shell_string_with_a_timeout(self) -> None:
        with self.client.session() as s:
            r = s.exec(["echo", "hi"], timeout=5, env={"X": "y"}, workdir="/workspace/sub")
            self.assertEqual((r.exit_code, r.stdout, r.ok), (0, "echo hi", True))
            sent = json.loads(self.last("POST", f"/v1/sessions/{s.id}/exec")["body"])
            self.assertEqual(sent, {"cmd": ["echo", "hi"], "timeoutSeconds": 5, "env": {"X": "y"}, "workdir": "/workspace/sub"})
            r = s.exec("exit 3 # fail")
            self.assertEqual(r.exit_code, 3)
            self.assertFalse(r.ok)
            self.assertEqual(json.loads(self.last("POST", f"/v1/sessions/{s.id}/exec")["body"])["cmd"], ["/bin/sh", "-c", "exit 3 # fail"])

    def test_files_round_trip_binary_content_and_list_and_remove(self) -> None:
        data = bytes(range(256)) * 1000
        with self.client.session() as s:
            self.assertEqual(s.write_file("bin/data.bin", data, mode=0o755), len(data))
            put = self.last("PUT", f"/v1/sessions/{s.id}/files")
            self.assertEqual(put["query"], {"path": "bin/data.bin", "mode": "0755"})
            self.assertEqual(put["ctype"], "application/octet-stream")
            self.assertEqual(s.read_file("bin/data.bin"), data)
            self.assertEqual([e.path for e in s.list(".")], ["bin/data.bin"])
            s.remove("bin", recursive=True)
            self.assertEqual(self.last("DELETE", f"/v1/sessions/{s.id}/files")["query"], {"path": "bin", "recursive": "true"})
            with self.assertRaises(NotFoundError) as caught:
                s.read_file("nope")
            self.assertEqual(caught.exception.code, "SESSION_PATH_NOT_FOUND")

    def test_upload_dir_sends_files_and_folders_but_no_links(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "pkg").mkdir()
            (root / "pkg" / "a.py").write_text("print(1)\n")
            (root / "top.txt").write_bytes(b"\x00\x01")
            os.symlink("/etc/passwd", root / "leak")
            with self.client.session() as s:
                report = s.upload_dir(root, "dest")
                self.assertEqual(report["files"], 2)
                sent = self.last("PUT", f"/v1/sessions/{s.id}/files/tar")
                self.assertEqual(sent["ctype"], "application/x-tar")
                with tarfile.open(fileobj=io.BytesIO(sent["body"])) as tar:
                    self.assertEqual(sorted(tar.getnames()), ["pkg", "pkg/a.py", "top.txt"])

    def test_download_dir_unpacks_and_refuses_entries_that_leave_the_folder(self) -> None:
        def tar_of(*names: str) -> bytes:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                for n in names:
                    info = tarfile.TarInfo(n)
                    info.size = 2
                    tar.addfile(info, io.BytesIO(b"ok"))
            return buf.getvalue()

        with tempfile.TemporaryDirectory() as tmp, self.client.session() as s:
            self.fake.tar_to_serve = tar_of("a/b.txt", "c.txt")
            self.assertEqual(s.download_dir("out", Path(tmp) / "got"), ["a/b.txt", "c.txt"])
            self.assertEqual((Path(tmp) / "got" / "a" / "b.txt").read_bytes(), b"ok")
            for evil in ("../escape.txt", "/tmp/abs.txt"):
                self.fake.tar_to_serve = tar_of(evil)
                with self.assertRaises(AiboxError) as caught:
                    s.download_dir("out", Path(tmp) / "got2")
                self.assertEqual(caught.exception.code, "CLIENT_TAR_UNSAFE")
            self.assertFalse((Path(tmp) / "escape.txt").exists())
            os.symlink(tmp, Path(tmp) / "got" / "link")
            self.fake.tar_to_serve = tar_of("link/inner.txt")
            with self.assertRaises(AiboxError):
                s.download_dir("out", Path(tmp) / "got")
            self.assertFalse((Path(tmp) / "inner.txt").exists())

    def test_errors_are_typed_with_the_api_code_hint_and_retry_after(self) -> None:
        bad = AiboxClient(self.fake.url, "aibox_tok_000000000000_" + "B" * 43)
        with self.assertRaises(AuthenticationError) as caught:
            bad.create_session()
        self.assertEqual((caught.exception.code, caught.exception.status, caught.exception.hint), ("TOKEN_INVALID", 401, "a hint"))
        self.fake.next_error = (429, "SESSION_QUOTA", {"retry-after": "7"})
        with self.assertRaises(RateLimitError) as quota:
            self.client.create_session()
        self.assertEqual((quota.exception.code, quota.exception.retry_after), ("SESSION_QUOTA", 7.0))
        with self.client.session() as s:
            self.fake.next_error = (413, "SESSION_FILE_TOO_LARGE", {})
            with self.assertRaises(PayloadTooLargeError):
                s.write_file("big", b"x")

    def test_an_unreachable_daemon_is_a_connection_error(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        with self.assertRaises(ConnectionFailedError):
            AiboxClient(f"http://127.0.0.1:{port}", TOKEN, timeout=2).create_session()

    def test_env_defaults_and_url_validation(self) -> None:
        os.environ["AIBOX_URL"], os.environ["AIBOX_TOKEN"] = self.fake.url, TOKEN
        try:
            with AiboxClient().session() as s:
                self.assertTrue(s.id)
        finally:
            del os.environ["AIBOX_URL"], os.environ["AIBOX_TOKEN"]
        with self.assertRaises(ValueError):
            AiboxClient("ftp://x", TOKEN)


class CompatTest(unittest.TestCase):
    def test_create_execute_cleanup_speak_the_compatible_wire_format(self) -> None:
        with FakeAiboxd() as fake:
            compat = AiboxClient(fake.url, TOKEN).compat
            sid = compat.create_session()
            self.assertEqual(compat.execute(sid, "echo hi"), {"exit_code": 0, "output": "ran: echo hi\n"})
            self.assertEqual(json.loads(fake.requests[-1]["body"]), {"session_id": sid, "command": "echo hi"})
            compat.cleanup(sid)
            with self.assertRaises(NotFoundError):
                compat.execute(sid, "echo again")


if __name__ == "__main__":
    unittest.main()
