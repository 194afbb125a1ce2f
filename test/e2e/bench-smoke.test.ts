// Smoke test of the benchmark (npm run bench -- --quick): it runs end to end against real MinIO (https) and
// PostgreSQL, and writes tables whose every row of ours and of the floors has numbers. The peers (wal-g,
// pgBackRest) are optional: where one is absent its rows say "skipped" with the reason that results.json gives
// (the bench installs Debian's pgbackrest when it is missing; wal-g is the one the suite finds, passed on as
// WALG_BIN). No timing is judged here.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/paths.js";
import { walgBinary } from "../support/walg.js";

const outDir = await mkdtemp(join(tmpdir(), "wal-native-bench-smoke-"));
afterAll(() => rm(outDir, { recursive: true, force: true }));

interface Run { code: number; output: string }
interface Results {
  n: number;
  errors: unknown[];
  cpu: string;
  walgNote?: string;
  daemonNote?: string;
  pgbackrestNote?: string;
}

function runBench(args: string[]): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const env = { ...process.env, ...(walgBinary ? { WALG_BIN: walgBinary } : {}) };
    const child = spawn("npm", ["run", "--silent", "bench", "--", ...args], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => { output += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { output += d.toString(); });
    child.once("error", reject);
    child.once("close", (code) => resolveRun({ code: code ?? 128, output }));
  });
}

/** Rows of the markdown table under the "## <heading>" section, as arrays of trimmed cells. */
function tableRows(markdown: string, heading: string): string[][] {
  const section = markdown.split("\n## ").find((s) => s.startsWith(heading));
  if (section === undefined) throw new Error(`no section '${heading}' in RESULTS.md`);
  return section.split("\n").filter((line) => line.startsWith("| ")).slice(1)
    .filter((line) => !/^\|[-:| ]+\|$/.test(line))
    .map((line) => line.slice(2, -2).split(" | ").map((cell) => cell.trim()));
}

function expectNumbers(row: string[], columns: number[]): void {
  for (const column of columns) {
    expect(row[column], `column ${column} of row '${row.join(" | ")}'`).toMatch(/^\d+(\.\d+)?( \(.+\))?$/);
  }
}

// The benchmark measures wal-g as a peer, side by side with our commands: it needs a wal-g binary.
describe("npm run bench -- --quick", () => {
  let run: Run;
  let markdown: string;
  let results: Results;
  /** The reason a peer's rows are skipped, or undefined when it ran. */
  const skipReason = (tool: string): string | undefined => {
    if (tool === "wal-g") return results.walgNote;
    if (tool === "wal-g daemon") return results.daemonNote;
    if (tool.startsWith("pgBackRest")) return results.pgbackrestNote;
    return undefined;
  };
  /** A peer's row: numbers where it ran, else "skipped: <its reason>". */
  const expectRow = (row: string[], tool: string, numeric: number[]): void => {
    const reason = skipReason(tool);
    if (reason === undefined) expectNumbers(row, numeric);
    else expect(row[numeric[0]!]).toBe(`skipped: ${reason}`);
  };

  it("runs every scenario and exits 0", async () => {
    run = await runBench(["--quick", "--no-build", "--out", outDir]);
    expect(run.code, run.output.slice(-3000)).toBe(0);
    markdown = await readFile(join(outDir, "RESULTS.md"), "utf8");
    results = JSON.parse(await readFile(join(outDir, "results.json"), "utf8")) as Results;
    expect(results.n).toBe(8);
    expect(results.errors).toEqual([]);
  }, 900_000);

  it("has a recovery row for the pg_wal limit, the cp floor, ours and each peer", () => {
    const rows = tableRows(markdown, "Recovery to latest");
    expect(rows.map((r) => r[3])).toEqual(["pg_wal", "cp", "ours", "wal-g", "wal-g daemon", "pgBackRest async"]);
    for (const row of rows) {
      const cpu = results.cpu === "cgroup v1 cpuacct" && row[3] !== "pg_wal" ? [10] : [];
      // to promotion s, × pg_wal limit, × cp floor; ours also against its peers where they ran.
      expectRow(row, row[3]!, [4, 5, 6, ...cpu]);
    }
    const ours = rows.find((r) => r[3] === "ours")!;
    if (results.walgNote === undefined) expectNumbers(ours, [7]);
    if (results.pgbackrestNote === undefined) expectNumbers(ours, [8]);
  });

  it("has a PostgreSQL-archiving row for ours, the cp floor and each peer", () => {
    const rows = tableRows(markdown, "Archiving as PostgreSQL drives it");
    expect(rows.map((r) => r[3])).toEqual(["ours", "wal-g", "pgBackRest async", "cp"]);
    for (const row of rows) {
      if (skipReason(row[3]!) === undefined) expect(row[0]).toBe("pgbench -i -s 10");
      // max .ready, longest wait, all archived after, archived, failed, load s
      expectRow(row, row[3]!, [4, 5, 6, 7, 8, 10, ...(results.cpu === "cgroup v1 cpuacct" ? [9] : [])]);
    }
    expect(rows.find((r) => r[3] === "ours")![8]).toBe("0");
  });

  it("has the standby's and the primary's archiver for ours", () => {
    const rows = tableRows(markdown, "A standby archiving");
    expect(rows.map((r) => `${r[1]} ${r[2]}`)).toEqual(["ours primary", "ours standby"]);
    for (const row of rows) expectNumbers(row, [3, 4, 5, 6]);
  });

  it("has a numeric archive and re-archive row for each tool", () => {
    const archive = tableRows(markdown, "Archive: N segments");
    expect(archive.map((r) => r[3])).toEqual(["ours", "wal-g", "wal-g daemon", "pgBackRest async", "cp"]);
    for (const row of archive) expectRow(row, row[3]!, [4, 5, 6]);
    const again = tableRows(markdown, "Re-archive");
    expect(again.map((r) => r[1])).toEqual(["ours", "wal-g", "wal-g daemon", "pgBackRest async"]);
    for (const row of again) expectRow(row, row[1]!, [2, 3, 5]);
  });

  it("has a numeric fast-path row for node and each of our fast paths", () => {
    const rows = tableRows(markdown, "Fast-path");
    expect(rows.map((r) => r[0])).toEqual([
      "node -e 0", "wal-archive --help", "wal-restore --help", "wal-restore, segment in the local archive",
      "wal-archive, file uploaded ahead by an earlier call", "wal-restore, segment prefetched by an earlier call",
    ]);
    for (const row of rows) expectNumbers(row, [1, 2, 3, 4]);
  });

  it("judges the targets, each met, missed or n/a", () => {
    const rows = tableRows(markdown, "Targets");
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) expect(row[3]).toMatch(/^(yes|no \(.+\)|n\/a)$/);
    expect(rows.map((r) => r[0])).toContain("peak RSS of any one wal-native process");
  });

  it("writes a PNG chart", async () => {
    const png = await readFile(join(outDir, "bench.png"));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(10_000);
  });
});
