# Renders bench-out/bench.png from results.json: recovery, PostgreSQL-driven archiving, CPU per segment, the
# bench's own archive runs, peak RSS and the fast paths, with every peer that ran (wal-g, its daemon,
# pgBackRest async, the cp floor, the pg_wal limit).
# Usage: python3 chart.py results.json bench.png
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"pg_wal": "#bbbbbb", "cp": "#888888", "wal-g": "#4c72b0", "wal-g daemon": "#8172b2",
          "pgbackrest": "#55a868", "ours": "#dd8452"}
NAMES = {"pgbackrest": "pgBackRest async", "pg_wal": "pg_wal limit", "cp": "cp floor"}
ORDER = ["pg_wal", "cp", "wal-g", "wal-g daemon", "pgbackrest", "ours"]
NET = {"loopback": "loopback", "rtt20": "20 ms"}


def ran(row):
    return "error" not in row and "skipped" not in row


def grouped(ax, groups, value, ylabel, title, fmt="%.1f"):
    """Bars per tool within each group: groups = [(name, {tool: row})]; rows without a value are left out."""
    tools = [t for t in ORDER if any(t in rows for _, rows in groups)]
    width = 0.8 / max(1, len(tools))
    for i, tool in enumerate(tools):
        xs, ys = [], []
        for g, (_, rows) in enumerate(groups):
            row = rows.get(tool)
            v = value(row) if row is not None else None
            if v is not None:
                xs.append(g + (i - (len(tools) - 1) / 2) * width)
                ys.append(v)
        bars = ax.bar(xs, ys, width, label=NAMES.get(tool, tool), color=COLORS.get(tool))
        ax.bar_label(bars, fmt=fmt, fontsize=6)
    ax.set_xticks(range(len(groups)), [name for name, _ in groups], fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.margins(y=0.15)
    if tools:
        ax.legend(fontsize=7, loc="upper left", framealpha=0.9)


def main():
    results = json.load(open(sys.argv[1]))
    fig, axes = plt.subplots(3, 2, figsize=(16, 15))

    restore = [r for r in results.get("restore", []) if ran(r)]
    keys = sorted({(r["n"], r["net"], r["codec"]) for r in restore if r["codec"] != "-"},
                  key=lambda k: (k[0], k[1] != "loopback", k[2] != "lz4"))
    groups = []
    for n, net, codec in keys:
        rows = {r["tool"]: r for r in restore if r["n"] == n and (r["codec"] == "-" or (r["net"] == net and r["codec"] == codec))}
        groups.append((f"{n}\n{NET[net]}\n{codec}", rows))
    grouped(axes[0][0], groups, lambda r: r["wallMs"] / 1000, "seconds",
            "Recovery to latest: pg_ctl start to promotion (lower is better)")

    pg = [r for r in results.get("pgArchive", []) if ran(r) and r.get("minioData", "disk") == "disk"]
    keys = []
    for r in pg:
        for load in r["loads"]:
            for net in ([r["net"]] if r["tool"] != "cp" else []):
                k = (load["load"], net, r["codec"])
                if k not in keys:
                    keys.append(k)
    groups = []
    for load, net, codec in keys:
        rows = {}
        for r in pg:
            if (r["tool"] == "cp" and net == "loopback") or (r["net"] == net and r["codec"] == codec):
                match = next((l for l in r["loads"] if l["load"] == load), None)
                if match is not None:
                    rows[r["tool"]] = match
        groups.append((f"{'pgbench -i' if load == 'init' else 'TPC-B'}\n{NET[net]}\n{codec}", rows))
    grouped(axes[0][1], groups, lambda l: l["maxReady"], ".ready files",
            "PostgreSQL's archiver: most .ready at once (lower is better)", fmt="%d")

    cpu_groups = []

    def add_cpu(name, rows, pick):
        values = {t: row for t, row in rows.items() if pick(row) is not None}
        if values:
            cpu_groups.append((name, {t: {"v": pick(row)} for t, row in values.items()}))
    for load, net, codec in keys:
        if net != "loopback":
            continue
        rows = {}
        for r in pg:
            if r["net"] == net and r["codec"] == codec and r["tool"] != "cp":
                match = next((l for l in r["loads"] if l["load"] == load), None)
                if match is not None:
                    rows[r["tool"]] = match
        add_cpu(f"{'pgbench -i' if load == 'init' else 'TPC-B'}\n{codec}", rows, lambda l: l.get("cpuMsPerSegment"))
    for codec in ["lz4", "brotli"]:
        rows = {r["tool"]: r for r in restore if r["n"] == results["n"] and r["net"] == "loopback" and r["codec"] == codec}
        add_cpu(f"recovery {results['n']}\n{codec}", rows, lambda r: r.get("cpuMsPerSegment"))
        rows = {r["tool"]: r for r in results.get("rearchive", []) if ran(r) and r["codec"] == codec}
        add_cpu(f"re-archive\n{codec}", rows, lambda r: r.get("cpuMsPerSegment"))
    grouped(axes[1][0], cpu_groups, lambda r: r["v"], "CPU ms per segment",
            "CPU per segment, all of a tool's processes (loopback; lower is better)", fmt="%.0f")

    archive = [r for r in results.get("archive", []) if ran(r)]
    keys = sorted({(r["n"], r["net"], r["codec"]) for r in archive}, key=lambda k: (k[0], k[1] != "loopback", k[2] != "lz4"))
    groups = [(f"{n}\n{NET[net]}\n{codec}", {r["tool"]: r for r in archive if (r["n"], r["net"], r["codec"]) == (n, net, codec)})
              for n, net, codec in keys]
    grouped(axes[1][1], groups, lambda r: r["wallMs"] / 1000, "seconds",
            "Bench's archiver: N segments, one process each (lower is better)")

    peaks = {}
    rows = archive + restore + [r for r in results.get("rearchive", []) if ran(r)] + pg
    for r in rows:
        if r.get("peakRssKb"):
            peaks[r["tool"]] = max(peaks.get(r["tool"], 0), r["peakRssKb"] / 1024)
    for r in results.get("standby", []):
        if ran(r):
            for facts in r.get("rss", {}).values():
                if facts.get("peakRssKb"):
                    peaks[r["tool"]] = max(peaks.get(r["tool"], 0), facts["peakRssKb"] / 1024)
    ax = axes[2][0]
    names = [t for t in ORDER if t in peaks]
    bars = ax.bar([NAMES.get(n, n).replace(" ", "\n", 1) for n in names], [peaks[n] for n in names], color=[COLORS.get(n, "#999999") for n in names])
    ax.bar_label(bars, fmt="%.0f MB", fontsize=8)
    ax.axhline(100, color="red", linestyle="--", linewidth=1, label="target 100 MB")
    ax.set_ylabel("MB")
    ax.set_title("Peak RSS of one process (any scenario)", fontsize=10)
    ax.legend(fontsize=8)

    fast = [r for r in results.get("fastPath", []) if "error" not in r]
    ax = axes[2][1]
    bars = ax.barh([r["label"] for r in fast], [r["medianMs"] for r in fast], color="#dd8452")
    ax.bar_label(bars, fmt="%.1f ms", fontsize=8)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("median ms per call")
    ax.set_title("Fast-path call cost (ours)", fontsize=10)

    machine = results["machine"]
    fig.suptitle(f"wal-native, wal-g, pgBackRest — {results['date'][:10]}, {machine['nproc']} × {machine['cpu']}, "
                 f"N = {results['n']}" + (f" and {results['nLarge']}" if results.get("nLarge") else ""))
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
