// The matrices of the bench: every cell run `repeat` times, round robin over the tools so that noise from
// other load on the machine spreads over all tools alike; each cell reports the median of its runs.
//   archive    N segments pushed one process per segment by the bench (archive.mjs), per network and codec
//   fill       the large data set pushed once per tool and codec, for the recoveries through it
//   restore    real recoveries through N (and the large set's) segments, per network and codec, beside the
//              cp floor and the physical limit (segments already in pg_wal)
//   rearchive  the same N segments pushed again to the prefix that already holds them
//   pgArchive  PostgreSQL's archiver under pgbench -i and TPC-B (pg-archive.mjs)
//   standby    a primary and an archive_mode = always standby on one prefix (pg-standby.mjs)
import { rmSync } from "node:fs";
import { join } from "node:path";
import { archiveRun } from "./archive.mjs";
import { removePrefix } from "./lib/minio.mjs";
import { toolLabel, unavailable } from "./lib/peers.mjs";
import { median, mkdirForPostgres } from "./lib/proc.mjs";
import { pgArchiveRun } from "./pg-archive.mjs";
import { standbyRun } from "./pg-standby.mjs";
import { prepareCpArchive, restoreRun } from "./restore.mjs";

const slug = (tool) => tool.replace(" ", "-").replace("_", "");

/** Cells whose tool is unavailable become rows with the reason, and are not run. */
function skipUnavailable(ctx, cells) {
  for (const cell of cells) {
    const reason = unavailable(ctx, cell.tool);
    if (reason) cell.skipped = reason;
  }
  return cells;
}

/** Runs each cell's scenario `repeat` times, round robin; returns the cells with their runs. */
async function roundRobin(cells, repeat, attempt, runOne) {
  for (let rep = 1; rep <= repeat; rep++) {
    for (const cell of cells.filter((c) => !c.error && !c.skipped)) {
      const row = await attempt(`${cell.label} r${rep}`, () => runOne(cell, rep));
      if (row.error) cell.error = row.error;
      else cell.runs.push(row);
    }
  }
  return cells;
}

function rowOf({ runs, error, skipped, label, endpoint, ...keep }) {
  void label;
  void endpoint;
  if (skipped) return { ...keep, skipped };
  if (error) return { ...keep, error };
  return { ...keep, ...aggregate(runs) };
}

/**
 * The bench's own archiver over N segments. networks: [{ net, endpoint }]; codecs per network: loopback
 * every codec, others lz4 only. Returns one row per cell (with the prefix of its first run, which the
 * recoveries and the re-archive read).
 */
export async function archiveMatrix(ctx, data, { networks, tools, codecs, repeat, attempt }) {
  const cells = [];
  for (const { net, endpoint } of networks) {
    for (const codec of net === "loopback" ? codecs : codecs.filter((c) => c === "lz4")) {
      for (const tool of tools.filter((t) => t !== "pg_wal")) {
        // cp has no codec and no network: one row, under loopback and the first codec.
        if (tool === "cp" && (net !== "loopback" || codec !== codecs[0])) continue;
        cells.push({ kind: "archive", net, codec, tool, label: `archive ${net} ${codec} ${toolLabel(tool, codec)}`, n: data.segments.length, endpoint, runs: [] });
      }
    }
  }
  await roundRobin(skipUnavailable(ctx, cells), repeat, attempt, async (cell, rep) => {
    const key = `${data.segments.length}-${cell.net}-${cell.codec}-${slug(cell.tool)}-r${rep}`;
    const prefix = `${ctx.runId}/${key}`;
    const row = await archiveRun(ctx, data, { key, tool: cell.tool, codec: cell.codec, endpoint: cell.endpoint, prefix,
      cpDir: cell.tool === "cp" ? emptyDirForPostgres(join(ctx.workDir, `cp-target-r${rep}`)) : undefined });
    // Only the first run's objects are read again (recoveries, re-archive); the others would only fill the disk.
    if (rep > 1 && cell.tool !== "cp") await removePrefix(cell.endpoint, prefix);
    return { ...row, prefix };
  });
  return cells.map(rowOf);
}

function emptyDirForPostgres(dir) {
  rmSync(dir, { recursive: true, force: true });
  return mkdirForPostgres(dir);
}

/** The large data set, pushed once per tool and codec on loopback, for the recoveries through it. */
export async function fillMatrix(ctx, data, { endpoint, tools, codecs, attempt }) {
  const cells = [];
  for (const codec of codecs) {
    for (const tool of tools.filter((t) => !["cp", "pg_wal", "wal-g daemon"].includes(t))) {
      cells.push({ kind: "archive", net: "loopback", codec, tool, label: `archive ${data.segments.length} segments loopback ${codec} ${toolLabel(tool, codec)}`, n: data.segments.length, endpoint, runs: [] });
    }
  }
  await roundRobin(skipUnavailable(ctx, cells), 1, attempt, async (cell) => {
    const key = `${data.segments.length}-loopback-${cell.codec}-${slug(cell.tool)}-r1`;
    const prefix = `${ctx.runId}/${key}`;
    return { ...await archiveRun(ctx, data, { key, tool: cell.tool, codec: cell.codec, endpoint, prefix }), prefix };
  });
  return cells.map(rowOf);
}

/**
 * Recoveries through each data set (datasets: [{ data, repeat, tools }]), reading what each tool pushed
 * (loopback archive rows of the same size and codec), plus the cp floor and the pg_wal limit on loopback.
 */
export async function restoreMatrix(ctx, datasets, { networks, codecs, attempt, archiveRows }) {
  const rows = [];
  for (const { data, repeat, tools } of datasets) {
    const n = data.segments.length;
    const cpDir = prepareCpArchive(ctx, data);
    const cells = [];
    for (const floor of ["pg_wal", "cp"].filter((t) => tools.includes(t))) {
      cells.push({ kind: "restore", n, net: "loopback", codec: "-", tool: floor, label: `restore ${n} ${floor}`, runs: [] });
    }
    for (const { net, endpoint } of networks) {
      for (const codec of codecs) {
        for (const tool of tools.filter((t) => !["cp", "pg_wal"].includes(t))) {
          const source = archiveRows.find((row) => row.n === n && row.net === "loopback" && row.codec === codec && row.tool === tool && row.prefix);
          const cell = { kind: "restore", n, net, codec, tool, endpoint, prefix: source?.prefix, label: `restore ${n} ${net} ${codec} ${toolLabel(tool, codec)}`, runs: [] };
          if (!source) cell.skipped = unavailable(ctx, tool) ?? "no archive to read (its archive run failed or did not run)";
          cells.push(cell);
        }
      }
    }
    await roundRobin(skipUnavailable(ctx, cells), repeat, attempt, (cell, rep) => {
      const key = `${n}-${cell.net}-${cell.codec === "-" ? "" : `${cell.codec}-`}${slug(cell.tool)}-r${rep}`;
      return restoreRun(ctx, data, { key, tool: cell.tool, codec: cell.codec === "-" ? "lz4" : cell.codec, endpoint: cell.endpoint, prefix: cell.prefix, cpDir });
    });
    rows.push(...cells.map(rowOf));
  }
  return rows;
}

/** The N segments pushed again, by each tool, to the prefix of its first archive run (loopback). */
export async function rearchiveMatrix(ctx, data, { endpoint, tools, codecs, repeat, attempt, archiveRows }) {
  const cells = [];
  for (const codec of codecs) {
    for (const tool of tools.filter((t) => !["cp", "pg_wal"].includes(t))) {
      const source = archiveRows.find((row) => row.n === data.segments.length && row.net === "loopback" && row.codec === codec && row.tool === tool && row.prefix);
      const cell = { kind: "rearchive", net: "loopback", codec, tool, endpoint, prefix: source?.prefix, n: data.segments.length,
        label: `re-archive ${codec} ${toolLabel(tool, codec)}`, runs: [] };
      if (!source) cell.skipped = unavailable(ctx, tool) ?? "no first push to repeat (its archive run failed or did not run)";
      cells.push(cell);
    }
  }
  await roundRobin(cells, repeat, attempt, (cell, rep) =>
    archiveRun(ctx, data, { key: `again-${cell.codec}-${slug(cell.tool)}-r${rep}`, tool: cell.tool, codec: cell.codec, endpoint, prefix: cell.prefix }));
  return cells.map(rowOf);
}

/** PostgreSQL's archiver under pgbench -i and TPC-B, per network, codec and tool (cp once, on loopback). */
export async function pgArchiveMatrix(ctx, { networks, tools, codecs, scale, tpcb, attempt }) {
  const cells = [];
  for (const { net, endpoint } of networks) {
    for (const codec of codecs) {
      for (const tool of tools.filter((t) => !["wal-g daemon", "pg_wal"].includes(t))) {
        if (tool === "cp" && (net !== "loopback" || codec !== codecs[0])) continue;
        cells.push({ kind: "pgArchive", net, codec: tool === "cp" ? "-" : codec, tool, endpoint, label: `PostgreSQL archiving ${net} ${codec} ${toolLabel(tool, codec)}`, runs: [] });
      }
    }
  }
  await roundRobin(skipUnavailable(ctx, cells), 1, attempt, async (cell) => {
    const key = `${cell.net}-${cell.codec === "-" ? "" : `${cell.codec}-`}${slug(cell.tool)}`;
    const prefix = `${ctx.runId}/pg-${key}`;
    const row = await pgArchiveRun(ctx, { key, tool: cell.tool, codec: cell.codec === "-" ? "lz4" : cell.codec, endpoint: cell.endpoint, prefix, scale, tpcb });
    if (cell.tool !== "cp") await removePrefix(cell.endpoint, prefix);
    return row;
  });
  return cells.map(({ runs, error, skipped, label, endpoint, ...keep }) => {
    void label;
    void endpoint;
    return skipped ? { ...keep, skipped } : error ? { ...keep, error } : { ...keep, ...runs[0], scale };
  });
}

/** A primary and an archive_mode = always standby, both archiving to one prefix with the same tool (loopback). */
export async function standbyMatrix(ctx, { endpoint, tools, codecs, scale, attempt }) {
  const cells = [];
  for (const codec of codecs) {
    for (const tool of tools.filter((t) => !["cp", "pg_wal", "wal-g daemon"].includes(t))) {
      cells.push({ kind: "standby", net: "loopback", codec, tool, endpoint, label: `standby archiving ${codec} ${toolLabel(tool, codec)}`, runs: [] });
    }
  }
  await roundRobin(skipUnavailable(ctx, cells), 1, attempt, async (cell) => {
    const key = `${cell.codec}-${slug(cell.tool)}`;
    const prefix = `${ctx.runId}/standby-${key}`;
    const row = await standbyRun(ctx, { key, tool: cell.tool, codec: cell.codec, endpoint, prefix, scale });
    await removePrefix(endpoint, prefix);
    return row;
  });
  return cells.map(({ runs, error, skipped, label, endpoint: _e, ...keep }) => {
    void label;
    return skipped ? { ...keep, skipped } : error ? { ...keep, error } : { ...keep, ...runs[0], scale };
  });
}

/** Median wall time, call times and CPU over the repetitions, the largest RSS, and every run's wall time. */
function aggregate(runs) {
  const helperRssKb = {};
  for (const run of runs) {
    for (const [command, kb] of Object.entries(run.helperRssKb ?? {})) helperRssKb[command] = Math.max(helperRssKb[command] ?? 0, kb);
  }
  const of = (pick) => {
    const values = runs.map(pick).filter((v) => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  const peak = runs.reduce((best, run) => (run.peakRssKb > (best?.peakRssKb ?? -1) ? run : best), undefined);
  return {
    ...runs[0],
    wallMs: of((run) => run.wallMs),
    wallMsRuns: runs.map((run) => Math.round(run.wallMs)),
    callMs: { median: of((run) => run.callMs?.median), p90: of((run) => run.callMs?.p90) },
    callMsRuns: runs.map((run) => run.callMs?.all).filter(Boolean),
    cpuMsPerSegment: of((run) => run.cpuMsPerSegment),
    cpuMsPerSegmentRuns: runs.map((run) => run.cpuMsPerSegment).filter((v) => v !== undefined).map((v) => Math.round(v * 10) / 10),
    callCpuMsPerSegment: of((run) => run.callCpuMsPerSegment),
    systemShare: of((run) => run.systemShare),
    peakRssKb: peak?.peakRssKb, peakWhere: peak?.peakWhere,
    helperRssKb,
  };
}
