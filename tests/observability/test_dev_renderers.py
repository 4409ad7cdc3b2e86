"""A process of Interlink does not carry structlog's optional console renderers' libraries."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import interlink.cli
from interlink.observability.logging import configure
configure("info", "console")
print("rich" in sys.modules, "pygments" in sys.modules)
import rich
print(rich is not None)
"""


def test_rich_is_not_loaded_by_logging_but_can_still_be_imported() -> None:
    # rich is installed here through the test tools (schemathesis): what matters is that logging
    # does not load it
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["False", "False", "True"]
