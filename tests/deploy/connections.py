"""Connections to a server with WORKERS=N, each known to be served by one worker process.

The workers accept from one shared socket, so which one gets a connection is up to
the kernel. A test that must reach every worker opens connections, asks Linux
(/proc) which worker process holds the other end of each, and keeps those it needs.
Plain sockets speak HTTP/1.1 and the websocket protocol here, so the connection
whose owner was found is the one the request then goes over.
"""

import base64
import json
import os
import socket
import struct
from pathlib import Path

from tests.conftest import wait_for


def worker_pids(parent: int) -> set[int]:
    """The child processes of `parent` (the supervisor's daphne workers)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {int(pid) for pid in children}


def _server_side_inode(server_port: int, client_port: int) -> str | None:
    """The socket inode of the accepted end of 127.0.0.1:client_port -> server_port."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == server_port and (
            int(remote.split(":")[1], 16) == client_port
        ):
            return inode
    return None


def _holder(inode: str, pids: set[int]) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(f"{fd_dir}/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def owner(sock: socket.socket, server_port: int, pids: set[int]) -> int:
    """Which of `pids` accepted this connection (waits for the accept)."""
    client_port = sock.getsockname()[1]

    def find() -> int | None:
        inode = _server_side_inode(server_port, client_port)
        return _holder(inode, pids) if inode else None

    pid = wait_for(find, timeout=10)
    assert pid is not None, f"no worker accepted the connection from port {client_port}"
    return pid


def connections_on_every_worker(
    port: int, pids: set[int], *, per_worker: int = 1, limit: int = 200
) -> list[tuple[socket.socket, int]]:
    """Open connections until each worker holds `per_worker`; returns (socket, pid) pairs."""
    kept: list[tuple[socket.socket, int]] = []
    counts = dict.fromkeys(pids, 0)
    for _ in range(limit):
        if min(counts.values()) >= per_worker:
            return kept
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        pid = owner(sock, port, pids)
        if counts[pid] < per_worker:
            counts[pid] += 1
            kept.append((sock, pid))
        else:
            sock.close()
    raise AssertionError(f"{limit} connections did not reach every worker: {counts}")


def http_request(
    sock: socket.socket, method: str, path: str, *, body: dict | None = None, headers: dict
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on `sock` (then closed); returns the status and the body."""
    data = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    head, _, rest = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


class WebSocket:
    """The client side of a websocket on an open connection: handshake, then read JSON frames."""

    def __init__(self, sock: socket.socket, path: str, *, cookie: str) -> None:
        self.sock = sock
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\nCookie: {cookie}\r\n\r\n"
        )
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("websocket closed")
            data += chunk
        return data

    def receive(self) -> dict:
        """The next text frame, as JSON (the server sends whole, unmasked frames)."""
        opcode, payload = self.frame()
        assert opcode == 0x1, f"expected a text frame, got opcode {opcode}"
        return json.loads(payload)

    def frame(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload, whatever its kind (1 text, 8 close)."""
        first, second = self._exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._exactly(8))
        return first & 0x0F, self._exactly(length)
