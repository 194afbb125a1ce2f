# Renders bench-out/bench.png from results.json: archive and restore wall times, fast-path call cost, peak RSS.
# Usage: python3 chart.py results.json bench.png
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"cp": "#888888", "wal-g": "#4c72b0", "wal-g daemon": "#8172b2", "ours": "#dd8452"}
NET = {"loopback": "loopback", "rtt20": "20 ms RTT"}


def grouped(ax, groups, tools, value, ylabel, title):
    """Bars per tool within each group; failed or missing rows are left out."""
    width = 0.8 / max(1, len(tools))
    for i, tool in enumerate(tools):
        xs, ys = [], []
        for g, (_, rows) in enumerate(groups):
            row = next((r for r in rows if r.get("tool") == tool and "error" not in r), None)
            if row is not None:
                xs.append(g + (i - (len(tools) - 1) / 2) * width)
                ys.append(value(row))
        bars = ax.bar(xs, ys, width, label=tool, color=COLORS.get(tool))
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(groups)), [name for name, _ in groups])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.margins(y=0.15)
    ax.legend(fontsize=8, loc="upper left", framealpha=0.9)


def main():
    results = json.load(open(sys.argv[1]))
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    archive = results["archive"]
    keys = sorted({(r["net"], r["codec"]) for r in archive}, key=lambda k: (k[0] != "loopback", k[1] != "lz4"))
    groups = [(f"{NET[n]}, {c}", [r for r in archive if r["net"] == n and r["codec"] == c]) for n, c in keys]
    tools = [t for t in ["wal-g", "wal-g daemon", "ours"] if any(r["tool"] == t for r in archive)]
    grouped(axes[0][0], groups, tools, lambda r: r["wallMs"] / 1000, "seconds", f"Archive {results['n']} segments (lower is better)")

    restore = results["restore"]
    nets = [n for n in ["loopback", "rtt20"] if any(r["net"] == n for r in restore)]
    groups = [(NET[n], [r for r in restore if r["net"] == n]) for n in nets]
    tools = [t for t in ["cp", "wal-g", "wal-g daemon", "ours"] if any(r["tool"] == t for r in restore)]
    grouped(axes[0][1], groups, tools, lambda r: r["wallMs"] / 1000, "seconds", f"Recovery through {results['n']} segments")

    fast = [r for r in results["fastPath"] if "error" not in r]
    ax = axes[1][0]
    bars = ax.barh([r["label"] for r in fast], [r["medianMs"] for r in fast], color="#55a868")
    ax.bar_label(bars, fmt="%.1f ms", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("median ms per call")
    ax.set_title("Fast-path call cost")

    peaks = {}
    for r in archive + restore + results.get("pgbench", []):
        if "error" not in r and r.get("peakRssKb"):
            peaks[r["tool"]] = max(peaks.get(r["tool"], 0), r["peakRssKb"] / 1024)
    ax = axes[1][1]
    names = list(peaks)
    bars = ax.bar(names, [peaks[n] for n in names], color=[COLORS.get(n, "#999999") for n in names])
    ax.bar_label(bars, fmt="%.0f MB", fontsize=8)
    ax.axhline(150, color="red", linestyle="--", linewidth=1, label="target 150 MB")
    ax.set_ylabel("MB")
    ax.set_title("Peak RSS per process (any scenario)")
    ax.legend(fontsize=8)

    machine = results["machine"]
    fig.suptitle(f"wal-native vs wal-g — {results['date'][:10]}, {machine['nproc']} × {machine['cpu']}, N = {results['n']}")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
