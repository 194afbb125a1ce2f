// Archive scenario: push N segments the way PostgreSQL's archiver does: a fake data dir (a copy of the
// base backup) whose pg_wal holds all N segments with archive_status/<name>.ready, one process per
// segment, in order, cwd = data dir, PGDATA set (pg_ctl sets it), and .ready renamed to .done after each
// success. Commands: wal-g wal-push %p, wal-archive %p %f, walg-daemon-client <sock> wal-push %f.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killMarked } from "./lib/cleanup.mjs";
import { listKeys, s3Env } from "./lib/minio.mjs";
import { chownTreeToPostgres, median, mkdirForPostgres, percentile, postgresEnv, run, tail } from "./lib/proc.mjs";
import { readWrapperFile, sampleMarked, timeWrapper } from "./lib/rss.mjs";
import { startDaemon } from "./lib/daemon.mjs";

export const CODEC_EXT = { lz4: "lz4", brotli: "br" };

/**
 * One archive run. scenario: { key, tool: "wal-g"|"ours"|"wal-g daemon", codec, endpoint, prefix }.
 * Returns { wallMs, callMs: { median, p90, max }, peakRssKb, helperRssKb, objects }.
 */
export async function archiveRun(ctx, data, scenario) {
  const root = mkdirForPostgres(join(ctx.workDir, `archive-${scenario.key}`));
  const dataDir = join(root, "data");
  const scenarioEnv = { WALNATIVE_BENCH_SCENARIO: `${ctx.runId}-${scenario.key}` };
  try {
    prepareDataDir(data, dataDir);
    const env = postgresEnv({
      ...ctx.markerEnv, ...scenarioEnv, ...s3Env(scenario.endpoint, scenario.prefix), ...ctx.toolSettings,
      WALG_COMPRESSION_METHOD: scenario.codec, PGDATA: dataDir,
    }, ctx.toolsDir);
    const daemon = scenario.tool === "wal-g daemon" ? await startDaemon(ctx, root, dataDir, env) : undefined;
    const rssFile = join(root, "calls.time");
    const sampler = sampleMarked(scenarioEnv);
    const callMs = [];
    const started = performance.now();
    let wallMs;
    let helperRssKb;
    try {
      for (const name of data.segments) callMs.push(await archiveOne(ctx, scenario.tool, name, { dataDir, env, rssFile, daemon }));
    } finally {
      wallMs = performance.now() - started;
      helperRssKb = sampler.stop();
      daemon?.stop();
    }
    const objects = await verifyObjects(scenario, data.segments);
    const calls = readWrapperFile(readFileSync(rssFile, "utf8"));
    return {
      wallMs, objects,
      callMs: { median: median(callMs), p90: percentile(callMs, 90), max: Math.max(...callMs), all: callMs.map(Math.round) },
      peakRssKb: Math.max(...calls.map((c) => c.kb), ...Object.values(helperRssKb)),
      helperRssKb,
    };
  } finally {
    killMarked(`WALNATIVE_BENCH_SCENARIO=${scenarioEnv.WALNATIVE_BENCH_SCENARIO}`, 3000);
    // The uploader's log stays in the work dir (kept with --keep).
    try {
      copyFileSync(join(dataDir, "pg_wal", ".wal-native", "uploader.log"), join(ctx.workDir, `archive-${scenario.key}.uploader.log`));
    } catch {
      // no uploader ran (wal-g, or WALNATIVE_UPLOADER=off)
    }
    rmSync(root, { recursive: true, force: true });
  }
}

/** What the archiver does for one file: run the command, and on success rename .ready to .done. */
async function archiveOne(ctx, tool, name, { dataDir, env, rssFile, daemon }) {
  const [cmd, ...args] = [...timeWrapper(rssFile), ...commandFor(ctx, tool, name, daemon)];
  const result = await run(cmd, args, { cwd: dataDir, env, asPostgres: true, timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`${tool} archiving ${name} exited ${result.code}\n${tail(result.stderr, 15)}`);
  const status = join(dataDir, "pg_wal", "archive_status");
  renameSync(join(status, `${name}.ready`), join(status, `${name}.done`));
  return result.ms;
}

function commandFor(ctx, tool, name, daemon) {
  if (tool === "wal-g") return [ctx.tools.walg, "wal-push", `pg_wal/${name}`];
  if (tool === "ours") return [ctx.tools.walArchive, `pg_wal/${name}`, name];
  if (tool === "wal-g daemon") return [ctx.tools.daemonClient, daemon.socket, "wal-push", name];
  throw new Error(`unknown archive tool ${tool}`);
}

/** Copy of the base backup + pg_wal/<segments> + archive_status/<name>.ready, all owned by postgres. */
export function prepareDataDir(data, dataDir, { ready = true, segments = true } = {}) {
  copyTree(data.base, dataDir);
  const wal = join(dataDir, "pg_wal");
  mkdirSync(join(wal, "archive_status"), { recursive: true });
  for (const name of segments ? data.segments : []) {
    copyFileSync(join(data.segmentsDir, name), join(wal, name));
    if (ready) writeFileSync(join(wal, "archive_status", `${name}.ready`), "");
  }
  chownTreeToPostgres(dataDir);
}

/** Plain recursive copy (the base backup holds only regular files and directories). */
export function copyTree(from, to) {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const [src, dst] = [join(from, entry.name), join(to, entry.name)];
    if (entry.isDirectory()) copyTree(src, dst);
    else copyFileSync(src, dst);
  }
}

async function verifyObjects(scenario, segments) {
  const ext = CODEC_EXT[scenario.codec];
  const keys = new Set(await listKeys(scenario.endpoint, `${scenario.prefix}/wal_005/`));
  const missing = segments.filter((name) => !keys.has(`${scenario.prefix}/wal_005/${name}.${ext}`));
  if (missing.length > 0) throw new Error(`${scenario.tool}: ${missing.length} segments missing in storage, e.g. ${missing[0]}`);
  return keys.size;
}
