// Failover duplicates: the same segment archived twice, by a primary and by a promoted
// standby, must be accepted when the copies differ only after the end of valid WAL, and refused when they
// differ inside it or one holds less WAL. Real WAL from a PostgreSQL 15 cluster; pg_waldump cross-checks the end.
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { findValidWalEnd } from "../../src/wal/valid-end.js";
import { WalSegment } from "../../src/wal/file-name.js";
import { minioEnv, uniquePrefix } from "../support/minio.js";
import { configure, initCluster, psql, runAsPostgres, start, stop, waitFor } from "../support/postgres.js";
import { PG_BIN } from "../support/tools.js";
import { record } from "./results.js";
import { BIN, baseEnv, runTool, scratchDir } from "./tools.js";

const SEGMENT = 1024 * 1024;
let prefix: string;
let work: string;
/** A segment ended by pg_switch_wal (XLOG_SWITCH), and the one after it, still open when the server stopped. */
const samples: { name: string; bytes: Buffer; end: number; ending: string }[] = [];
let checkedSegments = 0;

/** pg_waldump's view of where valid WAL ends in one segment file. */
async function waldumpEnd(path: string): Promise<number | "beyond"> {
  const result = await runAsPostgres(join(PG_BIN, "pg_waldump"), [path], { check: false });
  const invalid = /invalid record length at ([0-9A-F]+)\/([0-9A-F]+)/.exec(result.stderr + result.stdout);
  if (invalid) return Number.parseInt(invalid[2] ?? "", 16) % SEGMENT;
  const lines = result.stdout.trim().split("\n");
  const last = lines.at(-1) ?? "";
  const match = /len \(rec\/tot\):\s+\d+\/\s*(\d+).*lsn: [0-9A-F]+\/([0-9A-F]+).*desc: SWITCH/.exec(last);
  if (match) return (Number.parseInt(match[2] ?? "", 16) % SEGMENT) + Number(match[1]);
  return "beyond"; // the last record continues in the next segment
}

beforeAll(async () => {
  prefix = uniquePrefix("failover");
  work = await scratchDir("failover");
  const cluster = await initCluster({ walSegSizeMb: 1 });
  await configure(cluster, { archive_mode: "on", archive_command: `${BIN}/wal-archive %p %f` });
  await start(cluster, { ...minioEnv(prefix), WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "" });
  await psql(cluster, "create table t as select g, repeat('x', 100) as pad from generate_series(1, 20000) g;");
  const switched = await psql(cluster, "insert into t select g, 'y' from generate_series(1, 50) g; select pg_walfile_name(pg_switch_wal());");
  await psql(cluster, "insert into t select g, 'z' from generate_series(1, 100) g;");
  const open = await psql(cluster, "select pg_walfile_name(pg_current_wal_lsn())");
  await waitFor(async () => (await psql(cluster, "select last_archived_wal from pg_stat_archiver")) >= switched, { what: "archive" });
  await stop(cluster, "immediate");
  // Our reader agrees with PostgreSQL's own tool on where the WAL ends, in every segment written so far
  // (full ones whose last record runs on, one ended by XLOG_SWITCH, the open one).
  const written = (await readdir(join(cluster.data, "pg_wal"))).filter((name) => /^[0-9A-F]{24}$/.test(name) && name <= open);
  for (const name of written) {
    const path = join(cluster.data, "pg_wal", name);
    const bytes = await readFile(path);
    const dump = await waldumpEnd(path);
    const ours = findValidWalEnd(bytes, WalSegment.parse(name, SEGMENT).startLsn(SEGMENT));
    expect(ours.end, name).toBe(dump === "beyond" ? bytes.length : dump);
    expect(ours.records, name).toBeGreaterThan(0);
    if (name === switched) samples.push({ name, bytes, end: ours.end, ending: "XLOG_SWITCH" });
    if (name === open) samples.push({ name, bytes, end: ours.end, ending: "end of written WAL (server stopped)" });
  }
  checkedSegments = written.length;
  expect(samples.length).toBe(2);
});

async function push(name: string, bytes: Buffer, label: string) {
  const path = join(work, `${label}-${name}`);
  await writeFile(path, bytes);
  return runTool("wal-archive", [path, name], { env: baseEnv(minioEnv(prefix)) });
}

describe("the same segment archived again after a failover", () => {
  it("is accepted when the copies differ only after the end of valid WAL", async () => {
    for (const sample of samples) {
      // The open segment was never archived: the "primary" copy goes first.
      if (sample.ending.startsWith("end")) expect((await push(sample.name, sample.bytes, "primary")).code).toBe(0);
      const standby = Buffer.from(sample.bytes);
      standby.fill(0xa5, sample.end);
      expect(standby.equals(sample.bytes)).toBe(false);
      const result = await push(sample.name, standby, "standby");
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain("with the same WAL");
    }
    record({
      scenario: "6 failover duplicates",
      check: "copies that differ only after the end of valid WAL",
      outcome: "accepted (exit 0, warning 'the same WAL'); the archived copy is kept. The end found by our reader equals pg_waldump's",
      figures: { ...Object.fromEntries(samples.map((s) => [`${s.ending}: valid WAL ends at byte`, s.end])), "segments cross-checked with pg_waldump": checkedSegments },
    });
  });

  it("is refused when a byte inside the valid WAL differs, or the new copy holds less WAL", async () => {
    const codes: number[] = [];
    for (const sample of samples) {
      const inside = Buffer.from(sample.bytes);
      const at = Math.floor(sample.end / 2);
      inside[at] = (inside[at] ?? 0) ^ 0x01;
      // Less WAL: the copy stops at a record boundary well before the archived copy's end.
      const shorter = Buffer.from(sample.bytes).fill(0, recordBoundaryBefore(sample.bytes, Math.floor(sample.end / 3), sample.name));
      for (const [label, bytes] of [["inside", inside], ["shorter", shorter]] as const) {
        const result = await push(sample.name, bytes, label);
        expect(result.code, `${sample.ending} ${label}: ${result.stderr}`).toBe(65);
        expect(result.stderr).toContain("with different content");
        codes.push(result.code);
      }
    }
    record({
      scenario: "6 failover duplicates",
      check: "copies that differ inside the valid WAL or hold less of it",
      outcome: "refused with exit 65 (a real conflict); the conflict check is not weakened",
      figures: { cases: codes.length, "exit codes": [...new Set(codes)].join(", ") },
    });
  });
});

/** The start of the record that holds byte `at`: zeroing from `at` breaks that record, so the valid WAL ends there. */
function recordBoundaryBefore(bytes: Buffer, at: number, name: string): number {
  const cut = findValidWalEnd(Buffer.from(bytes).fill(0, at), WalSegment.parse(name, SEGMENT).startLsn(SEGMENT));
  expect(cut.records).toBeGreaterThan(0);
  return cut.end;
}
