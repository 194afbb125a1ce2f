// Fast-path call cost: wall time of one process from start to exit, run as postgres like PostgreSQL
// would, one after another (our own loop: hyperfine is not installed; the loop's spawn overhead is the
// same for every row). Rows: bare `node -e 0`, `wal-archive --help`, `wal-restore --help`, a real
// `wal-restore` served from the local archive, a `wal-archive` of a file an earlier call uploaded ahead,
// and a `wal-restore` of a segment an earlier call's prefetch had time to fetch.
import { copyFileSync, linkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { prepareDataDir } from "./archive.mjs";
import { killMarked } from "./lib/cleanup.mjs";
import { s3Env } from "./lib/minio.mjs";
import { check, chownTreeToPostgres, median, mkdirForPostgres, percentile, postgresEnv } from "./lib/proc.mjs";

const WARMUP = 3;
/** Calls after the one that starts upload-ahead or prefetch: within both tools' default windows. */
const AHEAD = 8;

/** Returns [{ key, label, medianMs, p90Ms, runs }]. */
export async function fastPathRuns(ctx, data, { runs, endpoint, prefix, freshPrefix }) {
  const root = mkdirForPostgres(join(ctx.workDir, "fastpath"));
  const marker = `${ctx.runId}-fastpath`;
  try {
    const dataDir = join(root, "data");
    prepareDataDir(data, dataDir, { ready: false });
    markInRecovery(dataDir);
    const localArchive = mkdirForPostgres(join(root, "local-archive"), 0o700);
    for (const name of data.segments) linkOrCopy(join(data.segmentsDir, name), join(localArchive, name));
    chownTreeToPostgres(localArchive);
    const env = postgresEnv({ ...ctx.markerEnv, WALNATIVE_BENCH_SCENARIO: marker, ...ctx.toolSettings,
      ...s3Env(endpoint, prefix), WALG_COMPRESSION_METHOD: "lz4", PGDATA: dataDir }, ctx.toolsDir);
    const segments = data.segments;
    // Interleaved, so that bursts of other load on the machine hit every row alike.
    const results = await interleaved(ctx, runs, dataDir, env, [
      { key: "node", label: "node -e 0", argv: () => [process.execPath, "-e", "0"] },
      { key: "archive-help", label: "wal-archive --help", argv: () => [ctx.tools.walArchive, "--help"] },
      { key: "restore-help", label: "wal-restore --help", argv: () => [ctx.tools.walRestore, "--help"] },
    ]);
    // Alone: a served segment may start a prefetch worker that would disturb the other rows.
    results.push(...await interleaved(ctx, runs, dataDir, { ...env, WALNATIVE_LOCAL_ARCHIVE: localArchive }, [{
      key: "restore-local", label: "wal-restore, segment in the local archive",
      argv: (i) => [ctx.tools.walRestore, segments[i % segments.length], "pg_wal/RECOVERYXLOG"],
    }]));
    killMarked(`WALNATIVE_BENCH_SCENARIO=${marker}`, 300);
    results.push(await uploadedAhead(ctx, data, join(root, "ahead"), { ...env, ...s3Env(endpoint, freshPrefix) }));
    killMarked(`WALNATIVE_BENCH_SCENARIO=${marker}`, 300);
    results.push(await prefetched(ctx, data, join(root, "prefetch"), env));
    return results;
  } finally {
    killMarked(`WALNATIVE_BENCH_SCENARIO=${marker}`, 300);
    rmSync(root, { recursive: true, force: true });
  }
}

/** wal-archive of segments 2..: the first call (untimed) may upload them ahead, as PostgreSQL's archiver would see. */
async function uploadedAhead(ctx, data, root, env) {
  const dataDir = join(mkdirForPostgres(root), "data");
  prepareDataDir(data, dataDir);
  const archive = async (name) => {
    const result = await check(ctx.tools.walArchive, [`pg_wal/${name}`, name], { cwd: dataDir, env: { ...env, PGDATA: dataDir }, asPostgres: true });
    const status = join(dataDir, "pg_wal", "archive_status");
    renameSync(join(status, `${name}.ready`), join(status, `${name}.done`));
    return result;
  };
  const [first, ...rest] = data.segments.slice(0, AHEAD + 1);
  await archive(first);
  await sleep(1000);
  return timed(ctx, "archive-ahead", "wal-archive, file uploaded ahead by an earlier call", rest, archive);
}

/** wal-restore of segments 2..: after the first call (untimed) its prefetch gets 2 s to fetch ahead. */
async function prefetched(ctx, data, root, env) {
  const dataDir = join(mkdirForPostgres(root), "data");
  prepareDataDir(data, dataDir, { segments: false });
  markInRecovery(dataDir);
  const restore = (name) => check(ctx.tools.walRestore, [name, "pg_wal/RECOVERYXLOG"], { cwd: dataDir, env: { ...env, PGDATA: dataDir }, asPostgres: true });
  const [first, ...rest] = data.segments.slice(0, AHEAD + 1);
  await restore(first);
  await sleep(2000);
  return timed(ctx, "restore-prefetched", "wal-restore, segment prefetched by an earlier call", rest, restore);
}

/**
 * PostgreSQL runs restore_command only while recovery.signal (or standby.signal) exists; our prefetch
 * worker stops once neither does, so the restore rows run in a data directory that is in recovery.
 */
function markInRecovery(dataDir) {
  writeFileSync(join(dataDir, "recovery.signal"), "");
  chownTreeToPostgres(dataDir);
}

async function timed(ctx, key, label, names, call) {
  ctx.say(`fast path: ${label} (${names.length} runs)`);
  const times = [];
  for (const name of names) times.push((await call(name)).ms);
  return row(key, label, times);
}

/** `runs` rounds (after warm-ups) of one call per row, in turn. */
async function interleaved(ctx, runs, cwd, env, rows) {
  ctx.say(`fast path: ${rows.map((r) => r.label).join(", ")} (${runs} runs each, interleaved)`);
  const times = rows.map(() => []);
  for (let i = 0; i < WARMUP + runs; i++) {
    for (const [index, { argv }] of rows.entries()) {
      const [cmd, ...args] = argv(i);
      const result = await check(cmd, args, { cwd, env, asPostgres: true, timeoutMs: 60_000 });
      if (i >= WARMUP) times[index].push(result.ms);
    }
  }
  return rows.map(({ key, label }, index) => row(key, label, times[index]));
}

function row(key, label, times) {
  return { key, label, medianMs: median(times), p90Ms: percentile(times, 90), minMs: Math.min(...times), runs: times.length, times: times.map(Math.round) };
}

function linkOrCopy(from, to) {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}
