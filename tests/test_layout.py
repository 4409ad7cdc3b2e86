"""The import direction and the transaction rule, checked on the source rather than hoped for."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "interlink"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def interlink_imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (SRC / package).rglob("*.py"):
        modules = {m for m in imported_modules(path) if m.split(".")[0] == "interlink"}
        found[str(path.relative_to(SRC))] = modules
    return found


def test_kit_imports_no_domain() -> None:
    offending = {
        file: {m for m in modules if not m.startswith("interlink.kit")}
        for file, modules in interlink_imports("kit").items()
    }

    assert {f: m for f, m in offending.items() if m} == {}


def test_providers_import_no_domain_database_or_web_framework() -> None:
    if not (SRC / "providers").exists():
        return
    allowed = ("interlink.kit", "interlink.providers")
    offending: dict[str, set[str]] = {}
    for path in (SRC / "providers").rglob("*.py"):
        modules = imported_modules(path)
        bad = {
            m
            for m in modules
            if (m.split(".")[0] == "interlink" and not m.startswith(allowed))
            or m.split(".")[0] in ("sqlalchemy", "fastapi", "starlette")
        }
        if bad:
            offending[str(path.relative_to(SRC))] = bad

    assert offending == {}


def test_services_and_endpoints_never_commit() -> None:
    committing = []
    for path in SRC.rglob("*.py"):
        if (
            path.name not in ("service.py", "endpoints.py", "repository.py")
            and path.parent.name != "service"
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "commit"
                and isinstance(node.ctx, ast.Load)
            ):
                committing.append(f"{path.relative_to(SRC)}:{node.lineno}")

    # the request pipeline and the job runner own the transaction boundary; these are their own
    # short transactions by design: the first-start bootstrap, the idempotency claim, and the
    # record of a rejected inbound signature (which must survive the request's rollback)
    allowed = {"tenants/service.py", "idempotency/service.py", "webhooks_in/service.py"}
    assert [c for c in committing if c.split(":")[0] not in allowed] == []
