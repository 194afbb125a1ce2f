// Smoke test of the benchmark (npm run bench -- --quick): it runs end to end against real MinIO,
// PostgreSQL and wal-g and writes a table whose every row has numbers. No timing is judged here.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/paths.js";
import { liveName, walgBinary } from "../support/walg.js";

const outDir = await mkdtemp(join(tmpdir(), "wal-native-bench-smoke-"));
afterAll(() => rm(outDir, { recursive: true, force: true }));

interface Run { code: number; output: string }

function runBench(args: string[]): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn("npm", ["run", "--silent", "bench", "--", ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
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
    expect(row[column], `column ${column} of row '${row.join(" | ")}'`).toMatch(/^\d+(\.\d+)?$/);
  }
}

// The benchmark measures wal-g as a peer, side by side with our commands: it needs a wal-g binary.
describe.skipIf(!walgBinary)(liveName("npm run bench -- --quick"), () => {
  let run: Run;
  let markdown: string;
  let daemon: boolean;

  it("runs every scenario and exits 0", async () => {
    run = await runBench(["--quick", "--no-build", "--out", outDir]);
    expect(run.code, run.output.slice(-3000)).toBe(0);
    markdown = await readFile(join(outDir, "RESULTS.md"), "utf8");
    const results = JSON.parse(await readFile(join(outDir, "results.json"), "utf8")) as { n: number; errors: unknown[]; daemonNote?: string };
    expect(results.n).toBe(8);
    expect(results.errors).toEqual([]);
    daemon = results.daemonNote === undefined;
    if (!daemon) expect(markdown).toContain(`wal-g daemon mode not measured: ${results.daemonNote}`);
  }, 900_000);

  it("has a numeric archive row for each codec and tool", () => {
    const rows = tableRows(markdown, "Archive");
    const tools = ["wal-g", "ours", ...(daemon ? ["wal-g daemon"] : [])];
    expect(rows.map((r) => `${r[0]} ${r[1]} ${r[2]}`).sort()).toEqual(
      ["lz4", "brotli"].flatMap((codec) => tools.map((tool) => `loopback ${codec} ${tool}`)).sort());
    for (const row of rows) expectNumbers(row, row[2] === "ours" ? [3, 4, 5, 6, 7, ...(daemon ? [8] : [])] : [3, 4, 5, 6]);
  });

  it("has a numeric restore row for cp, wal-g and ours", () => {
    const rows = tableRows(markdown, "Restore");
    expect(rows.map((r) => r[1]).sort()).toEqual(["cp", "ours", "wal-g", ...(daemon ? ["wal-g daemon"] : [])].sort());
    for (const row of rows) expectNumbers(row, row[1] === "ours" ? [2, 3, 4, 5, 6] : [2, 3, 4, 5]);
  });

  it("has a numeric fast-path row for node and each of our fast paths", () => {
    const rows = tableRows(markdown, "Fast-path");
    expect(rows.map((r) => r[0])).toEqual([
      "node -e 0", "wal-archive --help", "wal-restore --help", "wal-restore, segment in the local archive",
      "wal-archive, file uploaded ahead by an earlier call", "wal-restore, segment prefetched by an earlier call",
    ]);
    for (const row of rows) expectNumbers(row, [1, 2, 3, 4]);
  });

  it("writes a PNG chart", async () => {
    const png = await readFile(join(outDir, "bench.png"));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(10_000);
  });
});
