// Several bench runs' targets side by side (scripts/bench/compare.mjs): each run judged alike, every target once per
// run, and a count of the runs that met it, so that a closing note can report three runs without hand-copying.
import { describe, expect, it } from "vitest";
import { compareMarkdown, compareTargets } from "../../scripts/bench/compare.mjs";

const restore = (tool: string, wallMs: number, n = 64) =>
  ({ n, net: "loopback", codec: tool === "cp" || tool === "pg_wal" ? "-" : "lz4", tool, wallMs });
const run = (date: string, ours: number, extra: Record<string, unknown>[] = []) => ({
  date, command: "npm run bench", n: 64, errors: [],
  restore: [restore("cp", 10000), restore("ours", ours), restore("wal-g", 20000), restore("pgbackrest", 8000), ...extra],
});

describe("bench: targets over several runs", () => {
  it("gives each run's verdict for a target and counts the runs that met it", () => {
    const rows = compareTargets([run("2026-12-05T10:00:00Z", 6000), run("2026-12-05T12:00:00Z", 7000), run("2026-12-06T10:00:00Z", 6200)]);
    const recovery = rows.find((row) => row.measure.startsWith("recovery through 64, loopback, lz4"));
    expect(recovery?.perRun.map((t) => t?.met)).toEqual(["yes", "no (pgBackRest by 9.4 %)", "yes"]);
    expect(recovery?.metIn).toBe(2);
    expect(recovery?.judgedIn).toBe(3);
  });

  it("lists a target only some runs judged, and says which run did not run it", () => {
    const large = [restore("cp", 40000, 256), restore("ours", 30000, 256), restore("wal-g", 60000, 256), restore("pgbackrest", 30000, 256)];
    const runs = [run("2026-12-05T10:00:00Z", 6000, large), run("2026-12-05T12:00:00Z", 6000)];
    const rows = compareTargets(runs);
    const through256 = rows.find((row) => row.measure.startsWith("recovery through 256"));
    expect(through256?.perRun[1]).toBeUndefined();
    expect(through256?.metIn).toBe(0);
    expect(through256?.judgedIn).toBe(1);
    const markdown = compareMarkdown(runs, ["a.json", "b.json"]);
    const line = markdown.split("\n").find((l) => l.startsWith("| recovery through 256"));
    expect(line).toContain("missed (pgBackRest by 25 %): cp 0.75×, wal-g 0.50×, pgBackRest 1.00×");
    expect(line).toContain("| not run | 0 of 1 |");
    expect(markdown).toContain("- run 2: 2026-12-05 12:00 UTC, `npm run bench`, N = 64 (b.json)");
  });
});
