// npm run bench: wal-native beside wal-g, pgBackRest (async) and the cp floor on the same machine, segments and
// MinIO (https): archiving N real segments as PostgreSQL's archiver does, real recoveries through N and a larger
// set (with the cp floor and the physical limit, every segment already in pg_wal), re-archiving segments that
// are already archived, PostgreSQL's own archiver under pgbench -i and TPC-B, a standby archiving the primary's
// WAL to the same prefix, per-call cost of the fast paths; CPU per segment and peak RSS per process of every
// tool. Writes bench-out/RESULTS.md, results.json and bench.png. See scripts/bench/README.md.
import { readFileSync, rmSync, statfsSync } from "node:fs";
import { basename, join } from "node:path";
import { writeComparison } from "./compare.mjs";
import { ensureSegments } from "./data.mjs";
import { fastPathRuns } from "./fastpath.mjs";
import { runCgroup } from "./lib/cgroup.mjs";
import { onCleanup, runCleanup } from "./lib/cleanup.mjs";
import { startMinio } from "./lib/minio.mjs";
import { build, machine, makeWorkDir, parseArgs, preflight, removeStaleRuns, startProxy, USAGE } from "./lib/setup.mjs";
import { makeCertificate } from "./lib/tls.mjs";
import { prepareTools } from "./lib/tools.mjs";
import { writeReport } from "./report.mjs";
import { archiveMatrix, fillMatrix, pgArchiveMatrix, rearchiveMatrix, restoreMatrix, standbyMatrix } from "./scenarios.mjs";

const ONE_WAY_MS = 10;
// The SDK's Node 20 deprecation notice would be printed in the middle of the progress lines.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const began = performance.now();
const say = (message) => console.log(`[bench +${((performance.now() - began) / 1000).toFixed(1)}s] ${message}`);

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) return console.log(USAGE);
  if (opts.report) {
    const results = JSON.parse(readFileSync(opts.report, "utf8"));
    results.errors = results.errors.filter((e) => e.scenario !== "chart");
    say(`report from ${opts.report}: ${(await writeReport(results, opts.out, say)).join(", ")}`);
    return 0;
  }
  if (opts.compare) {
    say(`targets of ${opts.compare.length} run(s): ${writeComparison(opts.compare, opts.out)}`);
    return 0;
  }
  preflight();
  removeStaleRuns(say);
  if (opts.build) await build(say);
  const { dir: workDir, runId, name } = makeWorkDir(opts.keep, say);
  const ctx = {
    runId, workDir, cacheDir: opts.cache, toolsDir: join(workDir, "tools"), say,
    markerEnv: { WALNATIVE_BENCH_RUN: runId },
    cgroupRun: runCgroup(name),
    // Equal concurrency for wal-g and us; our local archive and log files off (wal-g has neither; pgBackRest's
    // file log is off too: lib/pgbackrest.mjs).
    toolSettings: {
      WALG_UPLOAD_CONCURRENCY: "16", WALG_DOWNLOAD_CONCURRENCY: "10",
      WALNATIVE_LOCAL_ARCHIVE: "", WALNATIVE_ARCHIVE_LOG: "", WALNATIVE_RESTORE_LOG: "",
      // Development: WALNATIVE_LOG_LEVEL=debug puts the workers' timing lines in their logs (kept with --keep).
      ...(process.env.WALNATIVE_LOG_LEVEL ? { WALNATIVE_LOG_LEVEL: process.env.WALNATIVE_LOG_LEVEL } : {}),
    },
  };
  say(`run ${runId}: N = ${opts.segments}${opts.largeSegments ? ` and ${opts.largeSegments}` : ""}, ${opts.repeat} run(s) per cell${opts.quick ? " (quick)" : ""}, work dir ${workDir}`);
  say(`CPU per tool: ${ctx.cgroupRun.dir ? `cgroup ${ctx.cgroupRun.dir}` : `not measured (${ctx.cgroupRun.reason})`}`);
  ctx.tools = await prepareTools(ctx.toolsDir, ctx.cacheDir, say);
  say(`wal-g: ${ctx.tools.walgVersion ?? `skipped (${ctx.tools.walgNote})`}; daemon mode: ${ctx.tools.daemonClient ? "yes" : `no (${ctx.tools.daemonNote})`}`);
  say(`pgBackRest: ${ctx.tools.pgbackrestVersion ?? `skipped (${ctx.tools.pgbackrestNote})`}`);
  const data = await ensureSegments(ctx, opts.segments);
  const large = opts.largeSegments && opts.matrix && opts.restore ? await ensureSegments(ctx, opts.largeSegments) : undefined;
  const certificate = makeCertificate(join(workDir, "certs"));
  const minio = await startMinio(join(workDir, "minio"), ctx.markerEnv, certificate);
  say(`minio at ${minio.endpoint}`);
  const networks = [{ net: "loopback", endpoint: minio.endpoint }];
  if (opts.latency) {
    const proxy = await startProxy(minio.port, ONE_WAY_MS, ctx.markerEnv);
    networks.push({ net: "rtt20", endpoint: proxy.endpoint });
    say(`delay proxy (${2 * ONE_WAY_MS} ms round trip) at ${proxy.endpoint}`);
  }
  const results = {
    date: new Date().toISOString(), machine: machine(), n: opts.segments, nLarge: large ? opts.largeSegments : undefined, quick: opts.quick,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    walg: ctx.tools.walgVersion, walgNote: ctx.tools.walgNote, daemonNote: ctx.tools.daemonNote,
    pgbackrest: ctx.tools.pgbackrestVersion, pgbackrestNote: ctx.tools.pgbackrestNote,
    cpu: ctx.cgroupRun.dir ? "cgroup v1 cpuacct" : `not measured: ${ctx.cgroupRun.reason}`,
    settings: ctx.toolSettings, dataSource: data.manifest.source, repeat: opts.repeat, repeatLarge: opts.repeatLarge,
    archive: [], restore: [], rearchive: [], fastPath: [], pgArchive: [], standby: [], errors: [],
  };
  const attempt = (label, scenario) => attemptScenario(results, label, scenario);
  const { tools, codecs } = opts;
  const common = { networks, tools, codecs, repeat: opts.repeat, attempt };
  if (opts.matrix) {
    results.archive = await archiveMatrix(ctx, data, common);
    if (large) results.archive.push(...await fillMatrix(ctx, large, { endpoint: minio.endpoint, tools, codecs, attempt }));
    if (opts.restore) {
      const datasets = [{ data, repeat: opts.repeat, tools }, ...(large ? [{ data: large, repeat: opts.repeatLarge, tools: tools.filter((t) => t !== "wal-g daemon") }] : [])];
      results.restore = await restoreMatrix(ctx, datasets, { ...common, archiveRows: results.archive });
    }
    if (opts.rearchive) {
      results.rearchive = await rearchiveMatrix(ctx, data, { endpoint: minio.endpoint, tools: tools.filter((t) => t !== "pg_wal"), codecs, repeat: opts.repeat, attempt, archiveRows: results.archive });
    }
  }
  if (opts.fastpath && tools.includes("ours")) {
    const oursPrefix = results.archive.find((row) => row.net === "loopback" && row.codec === "lz4" && row.tool === "ours" && row.n === opts.segments)?.prefix;
    const fast = await attempt("fast path", () => fastPathRuns(ctx, data, {
      runs: opts.quick ? 10 : 30, endpoint: minio.endpoint, prefix: oursPrefix ?? `${runId}/fastpath`,
      freshPrefix: `${runId}/fastpath-ahead`,
    }));
    results.fastPath = Array.isArray(fast) ? fast : [{ key: "all", label: "fast path", ...fast }];
  }
  if (opts.pgArchive) {
    const tpcb = opts.tpcbSeconds > 0 ? { clients: opts.tpcbClients, seconds: opts.tpcbSeconds } : undefined;
    const pgTools = tools.filter((t) => t !== "pg_wal" && t !== "wal-g daemon");
    results.pgArchive = await pgArchiveMatrix(ctx, { networks, tools: pgTools, codecs, scale: opts.pgbenchScale, tpcb, attempt });
    // A diagnostic: the same with MinIO's data in tmpfs, where its fdatasync does not wait behind PostgreSQL's writes.
    const shm = opts.pgbenchTmpfs ? await tmpfsMinio(ctx, certificate) : undefined;
    if (shm) {
      const rows = await pgArchiveMatrix(ctx, { networks: [{ net: "loopback", endpoint: shm.endpoint }], tools: pgTools.filter((t) => t !== "cp"),
        codecs: ["lz4"], scale: opts.pgbenchScale, tpcb: undefined, attempt: (label, scenario) => attempt(`${label}, MinIO data in tmpfs`, scenario) });
      results.pgArchive.push(...rows.map((row) => ({ ...row, minioData: "tmpfs" })));
    }
  }
  if (opts.standby) {
    const standbyTools = tools.filter((t) => (opts.standbyTools ?? tools).includes(t));
    results.standby = await standbyMatrix(ctx, { endpoint: minio.endpoint, tools: standbyTools, codecs, scale: opts.pgbenchScale, attempt });
  }
  results.durationS = Math.round((performance.now() - began) / 1000);
  const written = await writeReport(results, opts.out, say);
  say(`done in ${Math.round((performance.now() - began) / 1000)} s: ${written.join(", ")}`);
  return results.errors.length === 0 ? 0 : 1;
}

/** A second MinIO with its data in /dev/shm, when that has room for pgbench's WAL (a container's default 64 MB has not). */
async function tmpfsMinio(ctx, certificate) {
  // Named as the work dir, so that removeStaleRuns also finds it after a killed run.
  const dir = join("/dev/shm", basename(ctx.workDir));
  try {
    const room = statfsSync("/dev/shm");
    if (room.bavail * room.bsize < 2 ** 31) throw new Error(`only ${Math.round((room.bavail * room.bsize) / 2 ** 20)} MiB free`);
    onCleanup("remove the tmpfs MinIO's data", () => rmSync(dir, { recursive: true, force: true }));
    const minio = await startMinio(dir, ctx.markerEnv, certificate);
    say(`minio with its data in tmpfs at ${minio.endpoint}`);
    return minio;
  } catch (error) {
    say(`no archiver pass with MinIO's data in tmpfs: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

/** Runs one scenario; a failure is recorded (and shown in the table) instead of ending the whole run. */
async function attemptScenario(results, label, scenario) {
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
  if (row.cpuMsPerSegment !== undefined) parts.push(cpuText(row));
  for (const load of row.loads ?? (row.load ? [{ load: "init", ...row.load }] : [])) {
    for (const [role, f] of Object.entries(load.byRole ?? { primary: load })) {
      parts.push(`${load.load}${role === "primary" ? "" : ` ${role}`}: max .ready ${f.maxReady}, all archived ${(f.drainMs / 1000).toFixed(2)} s after the load, ` +
        `${f.archived} archived, ${f.cpuMsPerSegment === undefined ? "CPU n/a" : cpuText(f)}${load.tps && role === "primary" ? `, ${Math.round(load.tps)} tps` : ""}`);
    }
  }
  if (row.peakRssKb !== undefined) parts.push(`peak RSS ${(row.peakRssKb / 1024).toFixed(0)} MB (${row.peakWhere})`);
  return parts.join(", ");
}

/** "CPU X ms/segment (calls Y, kernel Z %)", the split where the run has it. */
function cpuText(facts) {
  const split = [facts.callCpuMsPerSegment !== undefined ? `calls ${facts.callCpuMsPerSegment.toFixed(1)}` : "", facts.systemShare !== undefined ? `kernel ${Math.round(100 * facts.systemShare)} %` : ""].filter(Boolean);
  return `CPU ${facts.cpuMsPerSegment.toFixed(1)} ms/segment${split.length ? ` (${split.join(", ")})` : ""}`;
}

main().then((code) => {
  runCleanup();
  process.exitCode = code;
}, (error) => {
  console.error(`[bench] ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  runCleanup();
  process.exitCode = 1;
});
