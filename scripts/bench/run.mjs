// npm run bench: wal-native against wal-g on the same machine, segments and MinIO: archiving N real
// segments as PostgreSQL's archiver does, real recoveries through them (with the `cp` floor), both on
// loopback and at 20 ms round trip, per-call cost of the fast paths, peak RSS, and archiver lag under
// pgbench -i. Writes bench-out/RESULTS.md, results.json and bench.png. See scripts/bench/README.md.
import { ensureSegments } from "./data.mjs";
import { fastPathRuns } from "./fastpath.mjs";
import { onCleanup, runCleanup } from "./lib/cleanup.mjs";
import { startMinio } from "./lib/minio.mjs";
import { build, machine, makeWorkDir, parseArgs, preflight, removeStaleRuns, startProxy, USAGE } from "./lib/setup.mjs";
import { prepareTools } from "./lib/tools.mjs";
import { pgbenchLag } from "./pgbench-lag.mjs";
import { mostReady } from "./lib/ready-queue.mjs";
import { writeReport } from "./report.mjs";
import { archiveMatrix, restoreMatrix } from "./scenarios.mjs";
import { rmSync, statfsSync } from "node:fs";
import { basename, join } from "node:path";

const ONE_WAY_MS = 10;
// The SDK's Node 20 deprecation notice would be printed in the middle of the progress lines.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const began = performance.now();
const say = (message) => console.log(`[bench +${((performance.now() - began) / 1000).toFixed(1)}s] ${message}`);

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) return console.log(USAGE);
  preflight();
  removeStaleRuns(say);
  if (opts.build) await build(say);
  const { dir: workDir, runId } = makeWorkDir(opts.keep, say);
  const ctx = {
    runId, workDir, cacheDir: opts.cache, toolsDir: join(workDir, "tools"), say,
    markerEnv: { WALNATIVE_BENCH_RUN: runId },
    // Equal concurrency for both tools; our local archive and log files off (wal-g has neither).
    toolSettings: {
      WALG_UPLOAD_CONCURRENCY: "16", WALG_DOWNLOAD_CONCURRENCY: "10",
      WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "",
      // Development: WALNATIVE_LOG_LEVEL=debug puts the workers' timing lines in their logs (kept with --keep).
      ...(process.env.WALNATIVE_LOG_LEVEL ? { WALNATIVE_LOG_LEVEL: process.env.WALNATIVE_LOG_LEVEL } : {}),
    },
  };
  say(`run ${runId}: N = ${opts.segments}, ${opts.repeat} run(s) per cell${opts.quick ? " (quick)" : ""}, work dir ${workDir}`);
  ctx.tools = await prepareTools(ctx.toolsDir, ctx.cacheDir);
  say(`wal-g: ${ctx.tools.walgVersion}; daemon mode: ${ctx.tools.daemonClient ? "yes" : `no (${ctx.tools.daemonNote})`}`);
  const data = await ensureSegments(ctx, opts.segments);
  const minio = await startMinio(join(workDir, "minio"), ctx.markerEnv);
  say(`minio at ${minio.endpoint}`);
  const networks = [{ net: "loopback", endpoint: minio.endpoint }];
  if (opts.latency) {
    const proxy = await startProxy(minio.port, ONE_WAY_MS, ctx.markerEnv);
    networks.push({ net: "rtt20", endpoint: proxy.endpoint });
    say(`delay proxy (${2 * ONE_WAY_MS} ms round trip) at ${proxy.endpoint}`);
  }
  const results = {
    date: new Date().toISOString(), machine: machine(), n: opts.segments, quick: opts.quick,
    walg: ctx.tools.walgVersion, daemonNote: ctx.tools.daemonNote, settings: ctx.toolSettings,
    dataSource: data.manifest.source, archive: [], restore: [], fastPath: [], pgbench: [], errors: [],
  };
  const tools = ["wal-g", "ours", ...(ctx.tools.daemonClient ? ["wal-g daemon"] : [])].filter((tool) => !opts.tools || opts.tools.includes(tool));
  const matrix = { networks, tools, withCp: !opts.tools || opts.tools.includes("cp"), repeat: opts.repeat, attempt: (label, scenario) => attempt(results, label, scenario) };
  results.repeat = opts.repeat;
  results.archive = opts.matrix ? await archiveMatrix(ctx, data, matrix) : [];
  results.restore = opts.matrix && opts.restore ? await restoreMatrix(ctx, data, { ...matrix, archiveRows: results.archive }) : [];
  const oursPrefix = results.archive.find((row) => row.net === "loopback" && row.codec === "lz4" && row.tool === "ours")?.prefix;
  const fast = !opts.fastpath ? [] : await attempt(results, "fast path", () => fastPathRuns(ctx, data, {
    runs: opts.quick ? 10 : 30, endpoint: minio.endpoint, prefix: oursPrefix ?? `${runId}/fastpath`,
    freshPrefix: `${runId}/fastpath-ahead`,
  }));
  results.fastPath = Array.isArray(fast) ? fast : [{ key: "all", label: "fast path", ...fast }];
  if (opts.pgbench) {
    // The MinIO of every scenario keeps its data on the disk PostgreSQL writes to, and fdatasyncs each object:
    // under pgbench's writes one such sync took up to 0.27 s (strace). A second pass with a MinIO whose data is
    // in tmpfs shows what that costs each tool; a remote S3 does not wait for the database's disk.
    const stores = [{ minioData: "disk", endpoint: minio.endpoint }];
    const shm = opts.pgbenchTmpfs ? await tmpfsMinio(ctx) : undefined;
    if (shm) stores.push({ minioData: "tmpfs", endpoint: shm.endpoint });
    for (const { minioData, endpoint } of stores) {
      for (const tool of ["ours", "wal-g"].filter((name) => !opts.tools || opts.tools.includes(name))) {
        const key = minioData === "disk" ? tool : `${tool}-${minioData}`;
        const label = `pgbench -i -s ${opts.pgbenchScale} with ${tool}${minioData === "disk" ? "" : `, MinIO data in ${minioData}`}`;
        results.pgbench.push({ tool, scale: opts.pgbenchScale, minioData,
          ...await attempt(results, label, () => pgbenchLag(ctx, { tool, key, endpoint, prefix: `${runId}/pgbench-${key}`, scale: opts.pgbenchScale })) });
      }
    }
  }
  const written = await writeReport(results, opts.out, say);
  say(`done in ${((performance.now() - began) / 1000).toFixed(0)} s: ${written.join(", ")}`);
  return results.errors.length === 0 ? 0 : 1;
}

/** A second MinIO with its data in /dev/shm, when that has room for pgbench's WAL (a container's default 64 MB has not). */
async function tmpfsMinio(ctx) {
  // Named as the work dir, so that removeStaleRuns also finds it after a killed run.
  const dir = join("/dev/shm", basename(ctx.workDir));
  try {
    const room = statfsSync("/dev/shm");
    if (room.bavail * room.bsize < 2 ** 31) throw new Error(`only ${Math.round((room.bavail * room.bsize) / 2 ** 20)} MiB free`);
    onCleanup("remove the tmpfs MinIO's data", () => rmSync(dir, { recursive: true, force: true }));
    const minio = await startMinio(dir, ctx.markerEnv);
    say(`minio with its data in tmpfs at ${minio.endpoint}`);
    return minio;
  } catch (error) {
    say(`no pgbench pass with MinIO's data in tmpfs: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

/** Runs one scenario; a failure is recorded (and shown in the table) instead of ending the whole run. */
async function attempt(results, label, scenario) {
  say(`${label} ...`);
  try {
    const row = await scenario();
    say(`${label}: ${summary(row)}`);
    return row;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    say(`${label} FAILED: ${message}`);
    results.errors.push({ scenario: label, message });
    return { error: message.split("\n")[0] };
  }
}

function summary(row) {
  if (Array.isArray(row)) return row.map((r) => `${r.label} ${r.medianMs.toFixed(1)} ms`).join("; ");
  const parts = [];
  if (row.wallMs !== undefined) parts.push(`${(row.wallMs / 1000).toFixed(2)} s`);
  if (row.callMs?.median !== undefined) parts.push(`median call ${row.callMs.median.toFixed(0)} ms`);
  if (row.maxReady !== undefined) parts.push(`max .ready ${mostReady(row)} (sampled ${row.maxReady}), longest wait ${Math.round(row.longestWaitMs ?? 0)} ms, pgbench ${(row.pgbenchMs / 1000).toFixed(1)} s`);
  if (row.peakRssKb !== undefined) parts.push(`peak RSS ${(row.peakRssKb / 1024).toFixed(0)} MB`);
  return parts.join(", ");
}

main().then((code) => {
  runCleanup();
  process.exitCode = code;
}, (error) => {
  console.error(`[bench] ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  runCleanup();
  process.exitCode = 1;
});
