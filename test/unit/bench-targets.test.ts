// The bench's judgement of its targets (scripts/bench/targets.mjs): ratios within one run, every comparison of a
// compound target shown, a miss named with its size, an absent peer n/a rather than a pass or a failure.
import { describe, expect, it } from "vitest";
import { type Target, largestOurs, targets } from "../../scripts/bench/targets.mjs";

const restore = (tool: string, wallMs: number, extra: Record<string, unknown> = {}) =>
  ({ n: 64, net: "loopback", codec: tool === "cp" || tool === "pg_wal" ? "-" : "lz4", tool, wallMs, ...extra });
const pg = (tool: string, init: number, tpcb: number, cpu = 50) => ({
  net: "loopback", codec: "lz4", tool, scale: 100,
  loads: [{ load: "init", maxReady: init, cpuMsPerSegment: cpu }, { load: "tpcb", maxReady: tpcb, cpuMsPerSegment: cpu }],
});
const byMeasure = (list: Target[], start: string) => {
  const found = list.find((t) => t.measure.startsWith(start));
  if (!found) throw new Error(`no target '${start}' in ${list.map((t) => t.measure).join("; ")}`);
  return found;
};

describe("bench: targets", () => {
  it("judges recovery against the cp floor, wal-g and pgBackRest together, naming each miss", () => {
    const list = targets({
      n: 64, restore: [restore("cp", 2000), restore("ours", 2200), restore("wal-g", 4000), restore("pgbackrest", 2500)],
    });
    const recovery = byMeasure(list, "recovery through 64, loopback, lz4");
    expect(recovery.measured).toBe("cp 1.10×, wal-g 0.55×, pgBackRest 0.88×");
    expect(recovery.met).toBe("no (cp by 4.8 %; pgBackRest by 10 %)");
  });

  it("meets a recovery target whose peer is absent on the comparisons that ran, and says n/a for the peer", () => {
    const list = targets({ n: 64, restore: [restore("cp", 2000), restore("ours", 2000), { ...restore("wal-g", 0), skipped: "wal-g not found" }] });
    const recovery = byMeasure(list, "recovery through 64, loopback, lz4");
    expect(recovery.measured).toBe("cp 1.00×, wal-g n/a, pgBackRest n/a");
    expect(recovery.met).toBe("yes");
  });

  it("wants fewer .ready files than each peer, except at 1, which no tool can go below", () => {
    const fewer = targets({ n: 64, pgArchive: [pg("ours", 3, 1), pg("wal-g", 5, 1), pg("pgbackrest", 3, 2)] });
    expect(byMeasure(fewer, "pgbench -i -s 100, loopback, lz4").met).toBe("no (not fewer than pgBackRest (3 against 3))");
    expect(byMeasure(fewer, "TPC-B, loopback, lz4").met).toBe("yes");
    const over = targets({ n: 64, pgArchive: [pg("ours", 5, 3), pg("wal-g", 9, 9), pg("pgbackrest", 9, 9)] });
    expect(byMeasure(over, "pgbench -i -s 100, loopback, lz4").met).toBe("no (ours 5 > 4)");
    expect(byMeasure(over, "TPC-B, loopback, lz4").met).toBe("no (ours 3 > 2)");
  });

  it("compares CPU per segment with each peer of the same codec", () => {
    const list = targets({ n: 64, pgArchive: [pg("ours", 1, 1, 60), pg("wal-g", 2, 2, 80), pg("pgbackrest", 2, 2, 50)] });
    const cpu = byMeasure(list, "CPU per segment, PostgreSQL archiving pgbench -i, loopback, lz4");
    expect(cpu.measured).toBe("wal-g 0.75×, pgBackRest 1.20×");
    expect(cpu.met).toBe("no (pgBackRest by 20 %)");
  });

  it("holds a re-archive to its own first push and to wal-g's re-archive", () => {
    const archive = [{ n: 64, net: "loopback", codec: "lz4", tool: "ours", wallMs: 1000, cpuMsPerSegment: 50 }];
    const rearchive = [{ n: 64, codec: "lz4", tool: "ours", wallMs: 900, cpuMsPerSegment: 60 }, { n: 64, codec: "lz4", tool: "wal-g", wallMs: 2000, cpuMsPerSegment: 80 }];
    const again = byMeasure(targets({ n: 64, archive, rearchive }), "re-archive of N = 64");
    expect(again.measured).toBe("wall 0.90×, CPU 1.20×, wal-g 0.45×");
    expect(again.met).toBe("no (CPU by 20 %)");
  });

  it("finds our largest process anywhere, with the scenario and the process", () => {
    const results = {
      n: 64,
      archive: [{ n: 64, net: "loopback", codec: "lz4", tool: "ours", wallMs: 1, peakRssKb: 90 * 1024, peakWhere: "a call" },
        { n: 64, net: "loopback", codec: "lz4", tool: "wal-g", wallMs: 1, peakRssKb: 500 * 1024, peakWhere: "a call" }],
      standby: [{ codec: "lz4", tool: "ours", load: { byRole: {} }, rss: { standby: { peakRssKb: 120 * 1024, peakWhere: "node wal-archive.cjs --upload-worker" } } }],
    };
    expect(largestOurs(results)).toEqual({ kb: 120 * 1024, where: "standby scenario lz4, standby, node wal-archive.cjs --upload-worker" });
    expect(byMeasure(targets(results), "peak RSS").met).toBe("no (by 20 MB)");
  });
});
