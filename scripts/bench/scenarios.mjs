// The archive and restore matrices: every (network, codec, tool) cell run `repeat` times, round robin so
// that noise from other load on the machine spreads over all tools alike; each cell reports the median.
import { archiveRun } from "./archive.mjs";
import { median } from "./lib/proc.mjs";
import { prepareCpArchive, restoreRun } from "./restore.mjs";

const slug = (tool) => tool.replace(" ", "-");

/** networks: [{ net, endpoint }]; tools: archive tools. Returns one row per cell. */
export async function archiveMatrix(ctx, data, { networks, tools, repeat, attempt }) {
  const cells = [];
  for (const { net, endpoint } of networks) {
    for (const codec of net === "loopback" ? ["lz4", "brotli"] : ["lz4"]) {
      for (const tool of tools) cells.push({ net, codec, tool, endpoint, runs: [] });
    }
  }
  for (let rep = 1; rep <= repeat; rep++) {
    for (const cell of cells.filter((c) => !c.error)) {
      const key = `${cell.net}-${cell.codec}-${slug(cell.tool)}-r${rep}`;
      const prefix = `${ctx.runId}/${key}`;
      const row = await attempt(`archive ${key}`, () =>
        archiveRun(ctx, data, { key, tool: cell.tool, codec: cell.codec, endpoint: cell.endpoint, prefix }));
      if (row.error) cell.error = row.error;
      else cell.runs.push({ ...row, prefix });
    }
  }
  return cells.map(({ net, codec, tool, error, runs }) => ({ net, codec, tool, ...(error ? { error } : aggregate(runs)) }));
}

/** Recoveries reading what each tool pushed (lz4, first repetition), plus the cp floor on loopback. */
export async function restoreMatrix(ctx, data, { networks, tools, withCp = true, repeat, attempt, archiveRows }) {
  const cpDir = prepareCpArchive(ctx, data);
  const cells = [];
  for (const { net, endpoint } of networks) {
    for (const tool of [...(net === "loopback" && withCp ? ["cp"] : []), ...tools]) {
      const source = archiveRows.find((row) => row.net === net && row.codec === "lz4" && row.tool === tool);
      const error = tool !== "cp" && !source?.prefix ? "skipped: its archive run failed" : undefined;
      cells.push({ net, tool, endpoint, prefix: source?.prefix, error, runs: [] });
    }
  }
  for (let rep = 1; rep <= repeat; rep++) {
    for (const cell of cells.filter((c) => !c.error)) {
      const key = `${cell.net}-${slug(cell.tool)}-r${rep}`;
      const row = await attempt(`restore ${key}`, () =>
        restoreRun(ctx, data, { key, tool: cell.tool, endpoint: cell.endpoint, prefix: cell.prefix, cpDir }));
      if (row.error) cell.error = row.error;
      else cell.runs.push(row);
    }
  }
  return cells.map(({ net, tool, error, runs }) => ({ net, tool, ...(error ? { error } : aggregate(runs)) }));
}

/** Median wall time and call times over the repetitions, the largest RSS, and every run's wall time. */
function aggregate(runs) {
  const helperRssKb = {};
  for (const run of runs) {
    for (const [command, kb] of Object.entries(run.helperRssKb ?? {})) helperRssKb[command] = Math.max(helperRssKb[command] ?? 0, kb);
  }
  const calls = (field) => {
    const values = runs.map((run) => run.callMs?.[field]).filter((v) => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  return {
    ...runs[0],
    wallMs: median(runs.map((run) => run.wallMs)),
    wallMsRuns: runs.map((run) => Math.round(run.wallMs)),
    callMs: { median: calls("median"), p90: calls("p90") },
    callMsRuns: runs.map((run) => run.callMs?.all).filter(Boolean),
    peakRssKb: Math.max(...runs.map((run) => run.peakRssKb)),
    helperRssKb,
  };
}
