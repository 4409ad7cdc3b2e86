"""The processes of a scale-out deployment on one machine, each restartable after a SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replica:
    name: str
    args: list[str]
    env: dict[str, str]
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    kills: int = 0
    ready: bool = False
    log: str = field(default="")

    def start(self) -> None:
        self.ready = False
        logfile = open(self.log or os.devnull, "ab")  # noqa: SIM115 - handed to the child
        # our own interpreter running our own CLI
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "interlink", *self.args],
            env=self.env,
            stdout=logfile,
            stderr=logfile,
        )
        logfile.close()
        if self.port is not None:
            wait_listening(self.port, self.proc)
        self.ready = True

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.ready = False
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    @property
    def alive(self) -> bool:
        return self.ready and self.proc is not None and self.proc.poll() is None


def wait_listening(port: int, proc: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {within} s")
