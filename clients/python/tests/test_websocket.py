import json
import socket
import struct
import threading
import unittest

from aibox_client._websocket import OP_BINARY, OP_PING, OP_PONG, OP_TEXT, WebSocket, _mask
from aibox_client.errors import NotFoundError
from aibox_client.exec_stream import ExecStream


def server_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """An unmasked frame, as a server sends it."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head.append(n)
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return bytes(head) + payload


def read_client_frame(sock: socket.socket):
    """One masked client frame: (fin, opcode, unmasked payload)."""

    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    b0, b1 = exactly(2)
    assert b1 & 0x80, "client frames must be masked"
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", exactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exactly(8))[0]
    mask = exactly(4)
    return bool(b0 & 0x80), b0 & 0x0F, _mask(exactly(n), mask)


class WebSocketFramesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client_sock, self.server = socket.socketpair()
        self.ws = WebSocket(self.client_sock)

    def tearDown(self) -> None:
        self.ws.close()
        self.server.close()

    def test_masks_client_frames_of_every_length_class(self) -> None:
        for n in (0, 1, 125, 126, 65535, 65536, 300_000):
            payload = bytes(i % 251 for i in range(n))
            t = threading.Thread(target=self.ws.send_binary, args=(payload,))
            t.start()
            fin, op, got = read_client_frame(self.server)
            t.join()
            self.assertEqual((fin, op, got), (True, OP_BINARY, payload), n)

    def test_reassembles_fragments_answers_pings_and_ends_on_close(self) -> None:
        self.server.sendall(
            server_frame(OP_TEXT, b'{"a":', fin=False)
            + server_frame(OP_PING, b"hi")
            + server_frame(0x0, b" 1}", fin=True)
            + server_frame(OP_BINARY, b"\x01" * 70_000)
            + server_frame(0x8, struct.pack("!H", 1000))
        )
        self.assertEqual(self.ws.recv(), (OP_TEXT, b'{"a": 1}'))
        self.assertEqual(read_client_frame(self.server), (True, OP_PONG, b"hi"))
        self.assertEqual(self.ws.recv(), (OP_BINARY, b"\x01" * 70_000))
        self.assertIsNone(self.ws.recv())
        self.assertTrue(self.ws.closed)

    def test_exec_stream_speaks_the_exec_protocol(self) -> None:
        run = ExecStream(self.ws, {"cmd": ["cat"], "stdin": True})
        self.assertEqual(json.loads(read_client_frame(self.server)[2]), {"type": "start", "spec": {"cmd": ["cat"], "stdin": True}})
        run.write("in")
        self.assertEqual(read_client_frame(self.server)[2], b"\x00in")
        run.close_stdin()
        self.assertEqual(json.loads(read_client_frame(self.server)[2]), {"type": "stdin-eof"})
        self.server.sendall(
            server_frame(OP_BINARY, b"\x01out")
            + server_frame(OP_BINARY, b"\x02err")
            + server_frame(OP_TEXT, b'{"type":"exit","exitCode":137,"timedOut":true}')
            + server_frame(0x8, b"")
        )
        self.assertEqual(list(run), [("stdout", b"out"), ("stderr", b"err")])
        self.assertEqual((run.exit_code, run.timed_out), (137, True))

    def test_exec_stream_raises_the_daemons_error_with_its_code(self) -> None:
        run = ExecStream(self.ws, {"cmd": ["x"]})
        read_client_frame(self.server)
        error = {"type": "error", "error": {"code": "SESSION_NOT_FOUND", "message": "gone", "hint": "new one"}}
        self.server.sendall(server_frame(OP_TEXT, json.dumps(error).encode()))
        with self.assertRaises(NotFoundError) as caught:
            list(run)
        self.assertEqual((caught.exception.code, caught.exception.hint), ("SESSION_NOT_FOUND", "new one"))


if __name__ == "__main__":
    unittest.main()
