// Two archivers on one prefix, as PostgreSQL drives them: a primary (archive_mode = on) and a streaming
// standby made from it with pg_basebackup (archive_mode = always), both with archive_command = the same tool
// and the same storage prefix. `pgbench -i -s <scale>` on the primary; every segment then reaches the prefix
// twice, and whichever archiver comes second finds it already archived with equal content. Per role: the
// facts of pg-archive.mjs (most .ready at once, time from the load's end to all archived, CPU per archived
// segment from each role's own cgroup, peak RSS per process).
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scenarioCgroup } from "./lib/cgroup.mjs";
import { killMarked } from "./lib/cleanup.mjs";
import { setUp, toolEnv } from "./lib/peers.mjs";
import { clusterAt, configure, freePort, initdb, isRunning, psql, start, stop } from "./lib/pg.mjs";
import { check, chownTreeToPostgres, mkdirForPostgres, PG_BIN, postgresEnv } from "./lib/proc.mjs";
import { readWrapperFile } from "./lib/meter-facts.mjs";
import { meterPrefix, peakOf, sampleMarked } from "./lib/rss.mjs";
import { measureLoad } from "./pg-archive.mjs";

/**
 * scenario: { key, tool: "ours"|"wal-g"|"pgbackrest", codec, endpoint, prefix, scale }.
 * Returns { load: facts of the load with byRole.primary and byRole.standby, rss: { primary, standby } }.
 */
export async function standbyRun(ctx, scenario) {
  const root = mkdirForPostgres(join(ctx.workDir, `standby-${scenario.key}`));
  const primary = clusterAt(mkdirForPostgres(join(root, "primary")), await freePort());
  const standby = clusterAt(mkdirForPostgres(join(root, "standby")), await freePort());
  const scenarioEnv = { WALNATIVE_BENCH_SCENARIO: `${ctx.runId}-standby-${scenario.key}` };
  const roles = { primary: { cluster: primary }, standby: { cluster: standby } };
  for (const [role, r] of Object.entries(roles)) {
    r.cgroup = scenarioCgroup(ctx.cgroupRun, `standby-${scenario.key}-${role}`);
    r.callsFile = join(r.cluster.root, "calls.time");
  }
  try {
    await initdb(primary);
    const env = toolEnv(ctx, { scenarioEnv, endpoint: scenario.endpoint, prefix: scenario.prefix, codec: scenario.codec });
    const setUpRole = (role) => setUp(ctx, scenario.tool, { root: roles[role].cluster.root, dataDir: roles[role].cluster.data, env,
      cgroup: roles[role].cgroup, stanza: false, online: { socketDir: roles[role].cluster.root, port: roles[role].cluster.port }, ...scenario });
    roles.primary.tool = await setUpRole("primary");
    const archiveCommand = (role) => `${meterPrefix(ctx.tools, roles[role].callsFile, roles[role].cgroup)} ${roles[role].tool.archive}`;
    for (const r of Object.values(roles)) {
      writeFileSync(r.callsFile, "");
      chownTreeToPostgres(r.callsFile);
    }
    configure(primary, { wal_level: "replica", archive_mode: "on", shared_buffers: "128MB", archive_command: archiveCommand("primary") });
    await start(primary, env);
    await roles.primary.tool.stanzaCreate?.();
    await check(join(PG_BIN, "pg_basebackup"), ["-h", primary.root, "-p", String(primary.port), "-D", standby.data,
      "-X", "stream", "-c", "fast", "-R", "--no-sync"], { asPostgres: true, env: postgresEnv() });
    roles.standby.tool = await setUpRole("standby");
    // The primary's settings came along in postgresql.auto.conf; these come later and win.
    configure(standby, { archive_mode: "always", archive_command: archiveCommand("standby"), hot_standby: "on" });
    await start(standby, env);
    await waitStreaming(primary);
    const samplers = Object.fromEntries(Object.entries(roles).map(([role, r]) => [role, sampleMarked(scenarioEnv, 250, r.cgroup)]));
    let load;
    try {
      load = await measureLoad(primary, ["-i", "-q", "-s", String(scenario.scale), "postgres"],
        Object.entries(roles).map(([role, r]) => ({ role, cluster: r.cluster, cgroup: r.cgroup, callsFile: r.callsFile })));
    } finally {
      for (const [role, sampler] of Object.entries(samplers)) roles[role].helperRssKb = sampler.stop();
    }
    const rss = Object.fromEntries(Object.entries(roles).map(([role, r]) =>
      [role, { ...peakOf(readWrapperFile(readFileSync(r.callsFile, "utf8")), r.helperRssKb), helperRssKb: r.helperRssKb }]));
    return { load, rss };
  } finally {
    for (const r of Object.values(roles).reverse()) {
      if (isRunning(r.cluster)) await stop(r.cluster, "immediate").catch(() => undefined);
      r.tool?.stop();
    }
    killMarked(`WALNATIVE_BENCH_SCENARIO=${scenarioEnv.WALNATIVE_BENCH_SCENARIO}`, 300);
    for (const [role, r] of Object.entries(roles)) {
      try {
        copyFileSync(join(r.cluster.data, "pg_wal", ".wal-native", "uploader.log"), join(ctx.workDir, `standby-${scenario.key}-${role}.uploader.log`));
      } catch {
        // a peer
      }
      r.cgroup.remove();
    }
    rmSync(root, { recursive: true, force: true });
  }
}

async function waitStreaming(primary, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await psql(primary, "select count(*) from pg_stat_replication where state = 'streaming'")) !== "1") {
    if (Date.now() > deadline) throw new Error("the standby did not start streaming within 60 s");
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}
