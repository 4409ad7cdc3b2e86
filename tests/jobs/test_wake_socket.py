"""The SQLite wake sockets: a commit in one process wakes workers listening in others."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from interlink.jobs import wake_socket

pytestmark = pytest.mark.skipif(not wake_socket.SUPPORTED, reason="no Unix sockets here")


def _send(database: str) -> None:
    sender = wake_socket.Sender()
    try:
        sender.send(database)
    finally:
        sender.close()


async def test_a_listener_is_woken_by_a_send_for_its_database(tmp_path: Path) -> None:
    woken = asyncio.Event()
    listener = wake_socket.Listener(str(tmp_path / "a.db"), woken.set)
    assert listener.start()
    try:
        _send(str(tmp_path / "a.db"))
        await asyncio.wait_for(woken.wait(), timeout=10)
    finally:
        listener.close()
    assert listener.path is not None
    assert not listener.path.exists()  # a closed listener leaves no socket file behind
    assert not listener.directory.exists()  # nor, as the last one, its directory


async def test_a_send_for_another_database_wakes_nobody(tmp_path: Path) -> None:
    woken = asyncio.Event()
    listener = wake_socket.Listener(str(tmp_path / "a.db"), woken.set)
    assert listener.start()
    try:
        _send(str(tmp_path / "b.db"))
        # a send to its own database afterwards arrives; the first one never did
        own = asyncio.Event()
        listener.on_wake = own.set
        _send(str(tmp_path / "a.db"))
        await asyncio.wait_for(own.wait(), timeout=10)
    finally:
        listener.close()
    assert not woken.is_set()


def test_the_socket_file_of_a_worker_that_died_is_removed_by_the_next_send(
    tmp_path: Path,
) -> None:
    database = str(tmp_path / "a.db")
    directory = wake_socket.directory_for(database)
    directory.mkdir(mode=0o700, exist_ok=True)
    stale = directory / "12345-dead.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(stale))
    sock.close()  # as a killed worker: the file stays, nobody reads it
    assert stale.exists()

    _send(database)

    assert not stale.exists()
    os.rmdir(directory)


def test_a_send_with_no_worker_listening_is_a_no_op(tmp_path: Path) -> None:
    _send(str(tmp_path / "nobody.db"))
    assert not wake_socket.directory_for(str(tmp_path / "nobody.db")).exists()
