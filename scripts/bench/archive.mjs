// Archive scenario: push N segments the way PostgreSQL's archiver does: a stand-in data dir (a copy of the
// base backup) whose pg_wal holds all N segments with archive_status/<name>.ready, one process per segment,
// in order, cwd = data dir, PGDATA set (pg_ctl sets it), and .ready renamed to .done after each success.
// Commands: lib/peers.mjs. With `existing`, the prefix already holds every segment (an earlier run pushed the
// same files): the re-archive PostgreSQL does after a crash, or a second archiver on the same prefix.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scenarioCgroup } from "./lib/cgroup.mjs";
import { killMarked } from "./lib/cleanup.mjs";
import { setUp, toolEnv, verifyArchived } from "./lib/peers.mjs";
import { chownTreeToPostgres, median, mkdirForPostgres, percentile, run, tail } from "./lib/proc.mjs";
import { cpuFacts, readWrapperFile } from "./lib/meter-facts.mjs";
import { meterWrapper, peakOf, sampleMarked } from "./lib/rss.mjs";

/**
 * One archive run. scenario: { key, tool, codec, endpoint, prefix }.
 * Returns { wallMs, callMs: { median, p90, max, all }, cpuMs, cpuMsPerSegment, peakRssKb, peakWhere, helperRssKb, objects }.
 */
export async function archiveRun(ctx, data, scenario) {
  const root = mkdirForPostgres(join(ctx.workDir, `archive-${scenario.key}`));
  const dataDir = join(root, "data");
  const scenarioEnv = { WALNATIVE_BENCH_SCENARIO: `${ctx.runId}-archive-${scenario.key}` };
  const cgroup = scenarioCgroup(ctx.cgroupRun, `archive-${scenario.key}`);
  let tool;
  try {
    prepareDataDir(data, dataDir);
    const env = toolEnv(ctx, { scenarioEnv, endpoint: scenario.endpoint, prefix: scenario.prefix, codec: scenario.codec, extra: { PGDATA: dataDir } });
    tool = await setUp(ctx, scenario.tool, { root, dataDir, env, cgroup, ...scenario });
    const callsFile = join(root, "calls.time");
    const sampler = sampleMarked(scenarioEnv, 250, cgroup);
    const callMs = [];
    const cpuBefore = cgroup.usageNs();
    const systemBefore = cgroup.systemMs();
    const started = performance.now();
    let wallMs;
    let cpuNs;
    let systemMs;
    let helperRssKb;
    try {
      for (const name of data.segments) callMs.push(await archiveOne(ctx, scenario.tool, name, { dataDir, env, callsFile, cgroup, argv: tool.archiveArgv(name) }));
    } finally {
      wallMs = performance.now() - started;
      cpuNs = cgroup.usageNs() - cpuBefore;
      systemMs = cgroup.systemMs() - systemBefore;
      helperRssKb = sampler.stop();
      tool?.stop();
    }
    const objects = await verifyArchived(scenario.tool, scenario, data.segments);
    const calls = readWrapperFile(readFileSync(callsFile, "utf8"));
    return {
      wallMs, objects, n: data.segments.length,
      callMs: { median: median(callMs), p90: percentile(callMs, 90), max: Math.max(...callMs), all: callMs.map(Math.round) },
      ...cpuFacts(cpuNs, data.segments.length, { calls, systemMs }),
      ...peakOf(calls, helperRssKb), helperRssKb,
    };
  } finally {
    killMarked(`WALNATIVE_BENCH_SCENARIO=${scenarioEnv.WALNATIVE_BENCH_SCENARIO}`, 300);
    // The uploader's log stays in the work dir (kept with --keep).
    try {
      copyFileSync(join(dataDir, "pg_wal", ".wal-native", "uploader.log"), join(ctx.workDir, `archive-${scenario.key}.uploader.log`));
    } catch {
      // no uploader ran (a peer, or WALNATIVE_UPLOADER=off)
    }
    cgroup.remove();
    rmSync(root, { recursive: true, force: true });
  }
}

/** What the archiver does for one file: run the command, and on success rename .ready to .done. */
async function archiveOne(ctx, tool, name, { dataDir, env, callsFile, cgroup, argv }) {
  const [cmd, ...args] = [...meterWrapper(ctx.tools, callsFile, cgroup), ...argv];
  const result = await run(cmd, args, { cwd: dataDir, env, asPostgres: true, timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`${tool} archiving ${name} exited ${result.code}\n${tail(result.stderr, 15)}`);
  const status = join(dataDir, "pg_wal", "archive_status");
  renameSync(join(status, `${name}.ready`), join(status, `${name}.done`));
  return result.ms;
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
