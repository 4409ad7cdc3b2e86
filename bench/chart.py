"""A PNG of one run's ratios to its own baselines (needs the ``bench`` extra: matplotlib)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


def render(results: dict[str, Any], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "chart: skipped (install the bench extra: pip install -e '.[bench]')"
    rows = [r for r in results["summary"] if r["ratio"] is not None]
    labels = [f"{r['scenario']}\n{r['backend']}" for r in rows]
    ratios = [r["ratio"] for r in rows]
    colors = []
    for r in rows:
        if r["target"] is None:
            colors.append("#888888")
        elif (
            (r["ratio"] <= r["target"]) if r.get("lower_is_better") else (r["ratio"] >= r["target"])
        ):
            colors.append("#2e7d32")
        else:
            colors.append("#c62828")
    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 1.1), 5))
    bars = ax.bar(range(len(rows)), ratios, color=colors)
    for i, r in enumerate(rows):
        if r["target"] is not None:
            ax.hlines(r["target"], i - 0.4, i + 0.4, colors="black", linestyles="dashed")
    ax.bar_label(bars, labels=[f"{v:g}" for v in ratios], fontsize=8)
    ax.set_xticks(range(len(rows)), labels, fontsize=7, rotation=30, ha="right")
    ax.set_ylabel("ratio to the same run's baseline")
    machine = results["machine"]
    ax.set_title(
        f"Interlink make bench ({'quick' if results['quick'] else 'full'}), "
        f"{machine['cores']} cores, Python {machine['python']} - dashed: target; "
        "green meets it, red does not",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    shutil.copyfile(path, path.with_name("latest.png"))
    return f"chart: {path} (and latest.png)"
