"""The interlink command as an operator uses it, each call a real process."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(subprocess_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in subprocess_env.items() if not k.startswith("INTERLINK_")}
    env.update({"INTERLINK_LOG_LEVEL": "warning", **extra})
    return env


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interlink", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def serving(
    cwd: Path, env: dict[str, str], port: int
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "interlink", "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
            if process.poll() is not None:
                break
        yield process, lines
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
        lines.extend(out.splitlines())


def test_first_serve_prints_a_bootstrap_key_once_and_serves_docs(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    env = cli_env(subprocess_env)
    port = free_port()

    with serving(tmp_path, env, port) as (_, first_lines):
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5)
        openapi = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
    with serving(tmp_path, env, port) as (_, second_lines):
        pass

    bootstrap = [line for line in first_lines if line.startswith("Bootstrap admin key: ")]
    assert len(bootstrap) == 1
    key = bootstrap[0].split(": ", 1)[1]
    assert key.startswith("ik_test_")
    assert docs.status_code == 200
    assert "/v1/api-keys" in openapi["paths"]
    assert not any("Bootstrap admin key" in line for line in second_lines)
    assert (tmp_path / "var" / "interlink.db").exists()
    assert key not in (tmp_path / "var" / "interlink.db").read_bytes().decode("latin-1")


def test_bootstrap_key_works_against_the_served_api(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    port = free_port()

    # the key is printed once, on the first start; the output is read when the process ends
    with serving(tmp_path, cli_env(subprocess_env), port) as (_, lines):
        pass
    key = next(line.split(": ", 1)[1] for line in lines if line.startswith("Bootstrap admin key"))
    with serving(tmp_path, cli_env(subprocess_env), port):
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/tenants",
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
        )

    assert response.status_code == 200
    assert [t["name"] for t in response.json()["data"]] == ["Default"]


def test_tenants_and_keys_commands_script_cleanly(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    env = cli_env(subprocess_env)
    assert run_cli(["migrate"], tmp_path, env).returncode == 0

    tenant = json.loads(
        run_cli(["tenants", "create", "--name", "Shop", "--json"], tmp_path, env).stdout
    )
    created = run_cli(
        [
            "keys",
            "create",
            "--tenant",
            tenant["id"],
            "--scopes",
            "payments:write,webhooks:read",
            "--mode",
            "live",
            "--json",
        ],
        tmp_path,
        env,
    )
    issued = json.loads(created.stdout)
    listed = run_cli(["keys", "list", "--tenant", tenant["id"]], tmp_path, env).stdout
    revoked = run_cli(["keys", "revoke", issued["id"]], tmp_path, env)
    after = run_cli(["keys", "list", "--tenant", tenant["id"]], tmp_path, env).stdout
    unknown = run_cli(
        ["keys", "create", "--tenant", "ten_nope", "--scopes", "admin"], tmp_path, env
    )
    tenants = run_cli(["tenants", "list"], tmp_path, env).stdout

    assert issued["key"].startswith("ik_live_")
    assert issued["id"].startswith("key_")
    assert issued["scopes"] == ["payments:write", "webhooks:read"]
    assert issued["key"] not in listed
    assert "active" in listed
    assert revoked.returncode == 0
    assert "revoked" in after
    assert unknown.returncode != 0
    assert "no tenant" in unknown.stderr
    assert tenant["id"] in tenants


def test_invalid_configuration_stops_with_one_line_naming_the_setting(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    env = cli_env(subprocess_env, INTERLINK_PORT="eighty", INTERLINK_DATABASE_URL="mysql://x")

    result = run_cli(["serve"], tmp_path, env)

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "INTERLINK_PORT" in lines[0]
    assert "INTERLINK_DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr


def test_env_file_is_read(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    (tmp_path / ".env").write_text("INTERLINK_RATE_LIMIT_DEFAULT=not-a-limit\n")

    result = run_cli(["migrate"], tmp_path, cli_env(subprocess_env))

    assert result.returncode == 2
    assert "INTERLINK_RATE_LIMIT_DEFAULT" in result.stderr
