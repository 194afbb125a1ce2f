// Archiving as PostgreSQL drives it: a fresh cluster whose archive_command is the tool under test, and two
// loads one after the other, each followed by pg_switch_wal() and a wait until nothing is left to archive:
//   init  `pgbench -i -s <scale>` (bulk load and index builds: the fastest WAL PostgreSQL writes)
//   tpcb  `pgbench -c 8 -j 2 -T 60` (TPC-B, many small commits)
// Per load: the most .ready files at any instant and the longest wait of one (inotify: lib/ready-queue.mjs),
// the time from the load's end until the last segment was archived, segments archived and failed calls
// (pg_stat_archiver), the tool's CPU per archived segment (its cgroup: every call, the uploader, pgBackRest's
// async processes, wal-g's helpers), the load's pace and TPS, and the peak RSS of each of the tool's processes.
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { scenarioCgroup } from "./lib/cgroup.mjs";
import { killMarked } from "./lib/cleanup.mjs";
import { setUp, toolEnv } from "./lib/peers.mjs";
import { clusterAt, configure, freePort, initdb, isRunning, pgbench, psql, start, stop } from "./lib/pg.mjs";
import { chownTreeToPostgres, mkdirForPostgres } from "./lib/proc.mjs";
import { queueFacts, watchQueue } from "./lib/ready-queue.mjs";
import { cpuFacts, readWrapperFile } from "./lib/meter-facts.mjs";
import { meterPrefix, peakOf, sampleMarked } from "./lib/rss.mjs";
import { longestUpload } from "./lib/upload-log.mjs";

/**
 * scenario: { key, tool: "ours"|"wal-g"|"pgbackrest"|"cp", codec, endpoint, prefix, scale, tpcb: { clients, seconds } | undefined }.
 * Returns { loads: [{ load, ...facts }], peakRssKb, peakWhere, helperRssKb }.
 */
export async function pgArchiveRun(ctx, scenario) {
  const root = mkdirForPostgres(join(ctx.workDir, `pg-archive-${scenario.key}`));
  const cluster = clusterAt(root, await freePort());
  const scenarioEnv = { WALNATIVE_BENCH_SCENARIO: `${ctx.runId}-pg-archive-${scenario.key}` };
  const cgroup = scenarioCgroup(ctx.cgroupRun, `pg-archive-${scenario.key}`);
  const callsFile = join(root, "calls.time");
  let tool;
  try {
    await initdb(cluster);
    const cpDir = scenario.tool === "cp" ? mkdirForPostgres(join(root, "cp-archive")) : undefined;
    const env = toolEnv(ctx, { scenarioEnv, endpoint: scenario.tool === "cp" ? undefined : scenario.endpoint, prefix: scenario.prefix, codec: scenario.codec,
      // Debug level puts each upload's duration in the uploader's log.
      extra: scenario.tool === "ours" ? { WALNATIVE_LOG_LEVEL: "debug" } : {} });
    tool = await setUp(ctx, scenario.tool, { root, dataDir: cluster.data, env, cgroup, cpDir, stanza: false,
      online: { socketDir: cluster.root, port: cluster.port }, ...scenario });
    writeFileSync(callsFile, "");
    chownTreeToPostgres(callsFile);
    configure(cluster, {
      wal_level: "replica", archive_mode: "on", shared_buffers: "128MB",
      archive_command: `${meterPrefix(ctx.tools, callsFile, cgroup)} ${tool.archive}`,
    });
    await start(cluster, env);
    await tool.stanzaCreate?.();
    const sampler = sampleMarked(scenarioEnv, 250, cgroup);
    const loads = [];
    let helperRssKb;
    try {
      const archivers = [{ role: "primary", cluster, cgroup, callsFile }];
      loads.push({ load: "init", ...await measureLoad(cluster, ["-i", "-q", "-s", String(scenario.scale), "postgres"], archivers) });
      if (scenario.tpcb) {
        const { clients, seconds } = scenario.tpcb;
        loads.push({ load: "tpcb", clients, seconds, ...await measureLoad(cluster, ["-c", String(clients), "-j", "2", "-T", String(seconds), "postgres"], archivers) });
      }
    } finally {
      helperRssKb = sampler.stop();
    }
    const calls = readWrapperFile(readFileSync(callsFile, "utf8"));
    return {
      loads, ...peakOf(calls, helperRssKb), helperRssKb,
      // Of ours, the longest upload and its wait for the store after compression (the uploader's debug log).
      ...(scenario.tool === "ours" ? longestUploadOf(cluster.data) : {}),
    };
  } finally {
    if (isRunning(cluster)) await stop(cluster, "immediate").catch(() => undefined);
    tool?.stop();
    killMarked(`WALNATIVE_BENCH_SCENARIO=${scenarioEnv.WALNATIVE_BENCH_SCENARIO}`, 300);
    // The uploader's log and the server's (its checkpoints) stay in the work dir (kept with --keep).
    keepCopy(join(cluster.data, "pg_wal", ".wal-native", "uploader.log"), join(ctx.workDir, `pg-archive-${scenario.key}.uploader.log`));
    keepCopy(cluster.logFile, join(ctx.workDir, `pg-archive-${scenario.key}.postgres.log`));
    cgroup.remove();
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Runs one pgbench load on `cluster`, switches to a new segment, and waits until each archiver has archived
 * everything up to that switch. `archivers`: [{ role, cluster, cgroup, callsFile }] (the primary, and a standby with
 * archive_mode = always; callsFile: the meter's file of its archive_command calls, for the CPU split). Returns the load's facts (see the file's head), those of the first archiver at the top
 * level and every archiver's under byRole.
 */
export async function measureLoad(cluster, args, archivers = [{ role: "primary", cluster }]) {
  const watched = [];
  try {
    for (const archiver of archivers) {
      const statusDir = join(archiver.cluster.data, "pg_wal", "archive_status");
      const [archived, failed] = await archiverCounts(archiver.cluster);
      watched.push({
        ...archiver, statusDir, archived, failed, sampled: 0,
        cpuBefore: archiver.cgroup.usageNs(), systemBefore: archiver.cgroup.systemMs(), callsBefore: meteredCalls(archiver).length,
      });
    }
    const started = performance.now();
    for (const w of watched) w.queue = watchQueue(w.statusDir, started);
    const poll = setInterval(() => {
      for (const w of watched) w.sampled = Math.max(w.sampled, readyCount(w.statusDir));
    }, 100);
    let loadMs;
    let output;
    try {
      output = (await pgbench(cluster, args)).stdout;
      loadMs = performance.now() - started;
      const last = await psql(cluster, "select pg_walfile_name(pg_switch_wal())");
      // A standby closes (and marks ready) a streamed segment only when WAL of the next one arrives: one commit.
      if (watched.length > 1) await psql(cluster, "select txid_current()");
      for (const w of watched) await drain(w, last);
    } finally {
      clearInterval(poll);
      for (const w of watched) w.queue.close();
    }
    const byRole = {};
    for (const w of watched) {
      const [archivedAfter, failedAfter] = await archiverCounts(w.cluster);
      const archived = archivedAfter - w.archived;
      const facts = queueFacts(w.queue.times);
      const lastDone = Math.max(...[...w.queue.times.values()].map((t) => t.done ?? 0));
      byRole[w.role] = {
        drainMs: Math.max(0, lastDone - loadMs), archived, failed: failedAfter - w.failed,
        maxReady: Math.max(w.sampled, facts.maxReadyExact), maxReadySampled: w.sampled, longestWaitMs: facts.longestWaitMs,
        segmentEveryMs: facts.segmentEveryMs,
        // The calls of this load only: the meter's file holds every call of the scenario.
        ...cpuFacts(w.cgroup.usageNs() - w.cpuBefore, archived, { calls: meteredCalls(w).slice(w.callsBefore), systemMs: w.cgroup.systemMs() - w.systemBefore }),
        // [segment, ms when .ready appeared, ms when .done did], for a closer look (results.json only).
        queue: [...w.queue.times].map(([name, t]) => [name, t.ready === undefined ? null : Math.round(t.ready), t.done === undefined ? null : Math.round(t.done)]),
      };
    }
    return { loadMs, tps: Number(/tps = ([\d.]+)/.exec(output ?? "")?.[1]) || undefined, ...byRole[watched[0].role], byRole };
  } finally {
    for (const w of watched) w.queue?.close();
  }
}

/** The meter's lines of an archiver's calls so far ([] when it has no meter file). */
function meteredCalls(archiver) {
  return archiver.callsFile ? readWrapperFile(readFileSync(archiver.callsFile, "utf8")) : [];
}

async function archiverCounts(cluster) {
  return (await psql(cluster, "select archived_count, failed_count from pg_stat_archiver")).split("|").map(Number);
}

function readyCount(statusDir) {
  return readdirSync(statusDir).filter((f) => f.endsWith(".ready")).length;
}

function keepCopy(from, to) {
  try {
    copyFileSync(from, to);
  } catch {
    // nothing to keep: the scenario's own error says why
  }
}

/** Waits until `last` (the segment of the load's final switch) is archived and no .ready file is left. */
async function drain(watched, last, timeoutMs = 15 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (readyCount(watched.statusDir) > 0 || watched.queue.times.get(last)?.done === undefined) {
    if (Date.now() > deadline) {
      throw new Error(`${watched.role}: archiver still ${readyCount(watched.statusDir)} files behind (${last} ${watched.queue.times.get(last)?.done === undefined ? "not " : ""}archived) after ${timeoutMs / 1000} s`);
    }
    await sleep(20);
  }
}

/** The slowest upload in our uploader's log, and its wait for the store. */
function longestUploadOf(dataDir) {
  try {
    return longestUpload(readFileSync(join(dataDir, "pg_wal", ".wal-native", "uploader.log"), "utf8"));
  } catch {
    return {};
  }
}
