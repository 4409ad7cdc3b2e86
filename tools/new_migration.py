"""Write a migration for the models' changes: ``make migration REV=0002 NAME=integrations``.

Autogenerates against a scratch SQLite database at head, names the file YYYY-MM-DD-HHMM_<slug>.py
and keeps migrations free of imports from interlink.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from alembic import command

from interlink.db.migrations import MIGRATIONS_DIR, alembic_config


def main() -> None:
    rev, name = sys.argv[1], sys.argv[2]
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    with tempfile.TemporaryDirectory() as tmp:
        config = alembic_config(f"sqlite+aiosqlite:///{tmp}/scratch.db")
        command.upgrade(config, "head")
        script = command.revision(config, message=name, autogenerate=True, rev_id=rev)
    generated = Path(script.path)  # type: ignore[union-attr]
    text = generated.read_text()
    text = text.replace("astext_type=Text()", "astext_type=sa.Text()")
    text = "\n".join(line for line in text.splitlines() if "### " not in line) + "\n"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    target = MIGRATIONS_DIR / "versions" / f"{stamp}_{slug}.py"
    target.write_text(text)
    generated.unlink()
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(target)], check=False)
    print(target)


if __name__ == "__main__":
    main()
