"""Adapters know no domain: ``providers`` and ``kit`` import no domain package, no database layer
and no web framework (STYLE.md, import direction)."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "interlink.db",
    "interlink.models",
    "interlink.payments",
    "interlink.integrations",
    "interlink.auth",
    "interlink.events",
    "interlink.jobs",
    "interlink.app",
    "interlink.api",
    "interlink.pipeline",
)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_providers_and_kit_import_no_domain_database_or_web_framework(repo_root: Path) -> None:
    offenders = []
    for package in ("providers", "kit"):
        for path in sorted((repo_root / "src" / "interlink" / package).rglob("*.py")):
            for name in imported(path):
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                    offenders.append(f"{path.relative_to(repo_root)} imports {name}")
    assert offenders == []
