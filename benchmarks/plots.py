"""Plots and a table from ``benchmarks/results/timeline.json`` (``bench_timeline.py``).

For each category, one PNG: requests per second over time as the fake counted them (arrivals in
the trailing window, every request, refused ones included) for zoom-async, plain
``asyncio.gather`` and ``aiolimiter`` alone, the plan's limit as a line, and each 429 as a mark.
Also ``timeline.md``: the summary table. Run: ``python benchmarks/plots.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np

RESULTS = Path(__file__).parent / "results"
STYLE = {
    "zoom-async": {"color": "#1f77b4", "label": "zoom-async (ZoomClient)"},
    "gather": {"color": "#d62728", "label": "plain asyncio.gather over httpx"},
    "aiolimiter": {"color": "#ff7f0e", "label": "aiolimiter.AsyncLimiter(L, W) alone"},
}


def window_rate(times: np.ndarray, window: float, grid: np.ndarray) -> np.ndarray:
    """Arrivals in the trailing ``window`` at each grid time, per second."""
    counts = np.searchsorted(times, grid, side="right") - np.searchsorted(
        times, grid - window, side="right"
    )
    return counts / window


def plot_category(category: str, cases: list[dict[str, Any]], out: Path) -> None:
    limit = cases[0]["limits"][category]
    window, allowed = float(limit["window"]), limit["limit"] / float(limit["window"])
    fig, ax = plt.subplots(figsize=(9, 5.0), dpi=110)
    end = max(max(a[0] for a in c["arrivals"]) for c in cases) + window
    grid = np.arange(0.0, end, 0.02)
    for case in cases:
        style = STYLE[case["client"]]
        times = np.array(sorted(a[0] for a in case["arrivals"]))
        rate = window_rate(times, window, grid)
        s = case["summary"]
        ax.plot(
            grid,
            rate,
            color=style["color"],
            linewidth=1.4,
            label=f"{style['label']}: {s['ok']}/{s['requests']} ok, {s['rate']:.1f} ok/s, "
            f"{s['refused']} 429s",
        )
        refused = np.array(sorted(a[0] for a in case["arrivals"] if a[2] == 429))
        if refused.size:
            ax.scatter(
                refused,
                window_rate(times, window, refused),
                marker="x",
                s=18,
                color=style["color"],
                linewidths=0.9,
                zorder=3,
            )
    ax.axhline(allowed, color="black", linestyle="--", linewidth=1.2, label=f"limit {allowed:g}/s")
    ax.set_title(
        f"{category} on Business+ (limit {limit['limit']} per {window:g} s): requests counted "
        "on arrival in the trailing window; x marks a 429",
        fontsize=10,
    )
    ax.set_xlabel("seconds since the first request")
    ax.set_ylabel("requests per second")
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def table(data: dict[str, Any]) -> str:
    lines = [
        "| category | client | sent | ok | elapsed s | ok/s | ok rate ÷ allowed | 429s "
        "| max accepted in any window / limit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in data["cases"]:
        s, cat = case["summary"], case["category"]
        limit = case["limits"][cat]["limit"]
        lines.append(
            f"| {cat} | {case['client']} | {s['requests']} | {s['ok']} | {s['elapsed']:.2f} "
            f"| {s['rate']:.1f} "
            f"| {s['rate_allowed']:.3f} | {s['refused']} | {s['max_in_window'][cat]}/{limit} |"
        )
    return "\n".join(lines) + "\n"


def main(source: Path) -> None:
    data = json.loads(source.read_text(encoding="utf-8"))
    by_category: dict[str, list[dict[str, Any]]] = {}
    for case in data["cases"]:
        by_category.setdefault(case["category"], []).append(case)
    for category, cases in by_category.items():
        out = source.parent / f"rate-{category.lower()}.png"
        plot_category(category, cases, out)
        print(f"wrote {out}")
    md = source.parent / "timeline.md"
    md.write_text(
        f"Measured by `{data['command'].strip()}` at {data['generated_at']}, plotted by "
        f"`python benchmarks/plots.py`.\n\n" + table(data),
        encoding="utf-8",
    )
    print(f"wrote {md}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=RESULTS / "timeline.json")
    main(parser.parse_args().source)
