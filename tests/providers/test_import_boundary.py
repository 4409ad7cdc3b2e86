from __future__ import annotations

import ast
from pathlib import Path

import interlink.providers

ALLOWED_INTERNAL = ("interlink.providers", "interlink.kit")
FORBIDDEN_EXTERNAL = ("sqlalchemy", "fastapi", "starlette")


def test_providers_import_no_domain_no_database_no_web_framework() -> None:
    root = Path(interlink.providers.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                internal_bad = name.startswith("interlink") and not name.startswith(
                    ALLOWED_INTERNAL
                )
                if internal_bad or name.split(".")[0] in FORBIDDEN_EXTERNAL:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
