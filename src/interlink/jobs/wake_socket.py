"""Waking workers in other processes on SQLite, which has no LISTEN/NOTIFY.

Every worker on a SQLite database binds a Unix datagram socket in a directory that belongs to that
database file (under the system's temporary directory, named by a hash of the file's absolute
path, so the socket paths stay short). A process whose commit enqueued a job sends an empty
datagram to every socket there; the worker's event loop reads it and wakes its claims at once
(``notify.wake_local``), where it would otherwise find the job at its next poll.

Best effort by design: the job is already committed, so a datagram that is lost (a full socket
buffer, a worker that just exited) only costs that worker the wait until its next poll. A socket
file whose worker is gone refuses the datagram and is removed. No library does this for SQLite;
it is a few system calls (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

SUPPORTED = hasattr(socket, "AF_UNIX")
# a sender lists the directory again at most this often (a new worker is seen within it)
RESCAN_SECONDS = 0.5


def directory_for(database_path: str) -> Path:
    digest = hashlib.sha256(os.path.abspath(database_path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"interlink-wake-{digest}"


class Listener:
    """A worker's socket: every datagram that arrives calls ``on_wake`` once per read."""

    def __init__(self, database_path: str, on_wake: Callable[[], None]) -> None:
        self.directory = directory_for(database_path)
        self.on_wake = on_wake
        self.path: Path | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> bool:
        """Bind and start reading; False (polling only) when the platform or the directory does
        not allow it."""
        if not SUPPORTED:
            return False
        path = self.directory / f"{os.getpid()}-{os.urandom(4).hex()}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        for attempt in range(3):
            try:
                self.directory.mkdir(mode=0o700, exist_ok=True)
                sock.bind(str(path))
                break
            except FileNotFoundError:
                continue  # the last worker of the database removed the directory meanwhile
            except OSError as exc:
                log.warning("worker_wake_socket_failed", error=str(exc), attempt=attempt + 1)
                break
        else:
            sock.close()
            return False
        if sock.getsockname() != str(path):
            sock.close()
            return False
        self._sock, self.path = sock, path
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._read)
        return True

    def _read(self) -> None:
        assert self._sock is not None
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while True:  # drain: many commits at once are one wake-up
                self._sock.recv(64)
        self.on_wake()

    def close(self) -> None:
        if self._sock is None:
            return
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            with contextlib.suppress(OSError):
                self.directory.rmdir()  # the last worker of this database leaves no directory


class Sender:
    """One per process: sends the wake-ups of every commit that enqueued."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._targets: dict[Path, tuple[float, list[str]]] = {}

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        return self._sock

    def _listeners(self, directory: Path) -> list[str]:
        mono = time.monotonic()
        cached = self._targets.get(directory)
        if cached is not None and mono - cached[0] < RESCAN_SECONDS:
            return cached[1]
        try:
            found = [str(directory / name) for name in os.listdir(directory)]
        except OSError:
            found = []
        self._targets[directory] = (mono, found)
        return found

    def send(self, database_path: str) -> None:
        if not SUPPORTED:
            return
        directory = directory_for(database_path)
        targets = self._listeners(directory)
        if not targets:
            return
        sock = self._socket()
        gone: list[str] = []
        for target in targets:
            try:
                sock.sendto(b"", target)
            except (ConnectionRefusedError, FileNotFoundError):
                gone.append(target)  # its worker exited without removing it
            except OSError:
                pass  # a full buffer: that worker is awake anyway
        if gone:
            for target in gone:
                with contextlib.suppress(OSError):
                    os.unlink(target)
            self._targets.pop(directory, None)


_sender = Sender()
atexit.register(_sender.close)


def send(database_path: str) -> None:
    """Wake every worker on ``database_path`` in another process (called after a commit)."""
    try:
        _sender.send(database_path)
    except Exception as exc:  # never fail a commit that already happened
        log.warning("worker_wake_send_failed", error=str(exc))
