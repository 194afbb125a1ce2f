// Turns the benchmark results into bench-out/results.json, RESULTS.md (tables with absolute times and
// ratios, the targets met or missed, what each row measures) and bench.png (scripts/bench/chart.py).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderChart } from "./lib/chart.mjs";
import { toolLabel } from "./lib/peers.mjs";
import { targets } from "./targets.mjs";

const NET = { loopback: "loopback", rtt20: "20 ms RTT" };
const s = (ms) => (ms === undefined ? "n/a" : (ms / 1000).toFixed(2));
const ms = (value) => (value === undefined ? "n/a" : value.toFixed(1));
const mb = (kb) => (kb === undefined || !Number.isFinite(kb) ? "n/a" : (kb / 1024).toFixed(0));
const x = (a, b) => (a === undefined || b === undefined || b === 0 ? "" : (a / b).toFixed(2));

export async function writeReport(results, outDir, say) {
  mkdirSync(outDir, { recursive: true });
  results.targets = targets(results);
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, "RESULTS.md"), markdown(results));
  const written = [join(outDir, "RESULTS.md"), join(outDir, "results.json")];
  try {
    await renderChart(join(outDir, "results.json"), join(outDir, "bench.png"), say);
    written.push(join(outDir, "bench.png"));
  } catch (error) {
    say(`chart not written: ${error.message}`);
    results.errors.push({ scenario: "chart", message: error.message });
  }
  return written;
}

/** A row of `rows` matching every field of `match`, that ran. */
export function find(rows, match) {
  return rows.find((row) => Object.entries(match).every(([k, v]) => row[k] === v) && !row.error && !row.skipped);
}

function markdown(r) {
  const m = r.machine;
  const peers = [r.walg ? r.walg.split(/\s+/).slice(0, 3).join(" ") : `wal-g skipped (${r.walgNote})`,
    r.pgbackrest ?? `pgBackRest skipped (${r.pgbackrestNote})`];
  const lines = [
    "# wal-native benchmark", "",
    `${r.date.slice(0, 16).replace("T", " ")} UTC · \`${r.command}\` · ${r.durationS ? `${Math.round(r.durationS / 60)} min · ` : ""}` +
      `${m.nproc} × ${m.cpu}, ${m.memoryGiB} GiB, Linux ${m.kernel} · Node ${m.node} · ${m.postgres} · ${peers.join(" · ")} · ` +
      `**N = ${r.n}**${r.nLarge ? ` and ${r.nLarge}` : ""} segments of 16 MiB${r.quick ? " (--quick)" : ""}`,
    "",
    `Data: ${r.dataSource}. wal-g and ours: WALG_UPLOAD_CONCURRENCY=${r.settings.WALG_UPLOAD_CONCURRENCY}, ` +
      `WALG_DOWNLOAD_CONCURRENCY=${r.settings.WALG_DOWNLOAD_CONCURRENCY}; pgBackRest: archive-async=y, process-max=2, ` +
      "its default queue sizes; brotli's column is zst for pgBackRest, which has no brotli. Our local archive and every tool's log file off. " +
      "One MinIO on loopback, serving https with a self-signed certificate (pgBackRest's S3 driver needs TLS), used by every tool" +
      (r.restore.some((row) => row.net === "rtt20") || r.pgArchive.some((row) => row.net === "rtt20")
        ? "; \"20 ms RTT\" goes through a userspace proxy that delays each direction by 10 ms." : "; the 20 ms RTT scenarios were not run."),
    "", `CPU: ${r.cpu === "cgroup v1 cpuacct" ? "each scenario's commands and everything they start run in a cgroup of their own (cpuacct); *CPU ms/segment* is its usage over the segments archived or restored" : r.cpu}.`,
    ...(r.daemonNote ? ["", `wal-g daemon mode not measured: ${r.daemonNote}.`] : []),
    "", `Each archive, re-archive and restore cell ran ${r.repeat} time(s) (the large set's recoveries ${r.repeatLarge}), round robin over the tools; *wall s* is the median, *range s* the spread. PostgreSQL-driven scenarios ran once each.`,
    "", "## Recovery to latest: base backup, then every archived segment until the server is promoted", "",
    "| N | network | codec | tool | to promotion s | × pg_wal limit | × cp floor | ours / wal-g | ours / pgBackRest | median call ms | CPU ms/segment | peak RSS MB (process) | range s |",
    "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...r.restore.map((row) => {
      const limit = find(r.restore, { n: row.n, tool: "pg_wal" })?.wallMs;
      const floor = find(r.restore, { n: row.n, tool: "cp" })?.wallMs;
      const peer = (tool) => find(r.restore, { n: row.n, net: row.net, codec: row.codec, tool })?.wallMs;
      const ours = row.tool === "ours";
      return cells([String(row.n), NET[row.net], row.codec, toolLabel(row.tool, row.codec), ...(outcome(row, 9) ?? [s(row.wallMs), x(row.wallMs, limit), x(row.wallMs, floor),
        ours ? x(row.wallMs, peer("wal-g")) : "", ours ? x(row.wallMs, peer("pgbackrest")) : "", ms(row.callMs?.median),
        row.tool === "pg_wal" ? "" : ms(row.cpuMsPerSegment), rss(row), range(row)])]);
    }),
    "", "## Archiving as PostgreSQL drives it: `pgbench -i`, then TPC-B, with archive_command = the tool", "",
    "| load | network | codec | tool | max .ready | longest wait ms | all archived after the load s | archived | failed | CPU ms/segment | load s | tps | peak RSS MB (process) |",
    "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...r.pgArchive.flatMap((row) => {
      const label = [NET[row.net] + (row.minioData === "tmpfs" ? " (MinIO data in tmpfs)" : ""), row.codec, toolLabel(row.tool, row.codec)];
      const failed = outcome(row, 9);
      if (failed) return [cells(["all", ...label, ...failed])];
      return row.loads.map((load) => cells([loadName(load, row), ...label, String(load.maxReady), ms(load.longestWaitMs), s(load.drainMs),
        String(load.archived), String(load.failed), ms(load.cpuMsPerSegment), s(load.loadMs), load.tps ? load.tps.toFixed(0) : "", rss(row)]));
    }),
    ...(r.standby.length === 0 ? [] : [
      "", `## A standby archiving the primary's WAL to the same prefix (archive_mode = always), \`pgbench -i -s ${r.standby.find((row) => row.scale)?.scale ?? "?"}\` on the primary`, "",
      "| codec | tool | archiver | max .ready | all archived after the load s | archived | failed | CPU ms/segment | peak RSS MB (process) |",
      "|---|---|---|---:|---:|---:|---:|---:|---:|",
      ...r.standby.flatMap((row) => {
        const failed = outcome(row, 7);
        if (failed) return [cells([row.codec, toolLabel(row.tool, row.codec), "both", ...failed])];
        return Object.entries(row.load.byRole).map(([role, f]) => cells([row.codec, toolLabel(row.tool, row.codec), role, String(f.maxReady), s(f.drainMs),
          String(f.archived), String(f.failed), ms(f.cpuMsPerSegment), rss(row.rss[role])]));
      }),
    ]),
    "", "## Archive: N segments pushed by the bench's own archiver, one process per segment, in order, .ready files present", "",
    "| N | network | codec | tool | wall s | median call ms | p90 call ms | CPU ms/segment | peak RSS MB (process) | ours / wal-g | ours / pgBackRest | ours / wal-g daemon | range s |",
    "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...r.archive.map((row) => {
      const peer = (tool) => find(r.archive, { n: row.n, net: row.net, codec: row.codec, tool })?.wallMs;
      const ours = row.tool === "ours";
      return cells([String(row.n), NET[row.net], row.codec, toolLabel(row.tool, row.codec), ...(outcome(row, 9) ?? [s(row.wallMs), ms(row.callMs.median),
        ms(row.callMs.p90), ms(row.cpuMsPerSegment), rss(row), ours ? x(row.wallMs, peer("wal-g")) : "", ours ? x(row.wallMs, peer("pgbackrest")) : "",
        ours ? x(row.wallMs, peer("wal-g daemon")) : "", range(row)])]);
    }),
    ...(r.rearchive.length === 0 ? [] : [
      "", "## Re-archive: the same N segments pushed again to the prefix that holds them (loopback)", "",
      "| codec | tool | wall s | median call ms | CPU ms/segment | wall × its first push | CPU × its first push | peak RSS MB (process) | ours / wal-g | ours / pgBackRest | range s |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...r.rearchive.map((row) => {
        const first = find(r.archive, { n: row.n, net: "loopback", codec: row.codec, tool: row.tool });
        const peer = (tool) => find(r.rearchive, { codec: row.codec, tool })?.wallMs;
        const ours = row.tool === "ours";
        return cells([row.codec, toolLabel(row.tool, row.codec), ...(outcome(row, 9) ?? [s(row.wallMs), ms(row.callMs.median), ms(row.cpuMsPerSegment),
          x(row.wallMs, first?.wallMs), x(row.cpuMsPerSegment, first?.cpuMsPerSegment), rss(row), ours ? x(row.wallMs, peer("wal-g")) : "",
          ours ? x(row.wallMs, peer("pgbackrest")) : "", range(row)])]);
      }),
    ]),
    ...(r.fastPath.length === 0 ? [] : [
      "", "## Fast-path call cost (process start to exit, as postgres)", "",
      "| command | median ms | p90 ms | × node -e 0 | min ms | runs |", "|---|---:|---:|---:|---:|---:|",
      ...r.fastPath.map((row) => cells([row.label, ...(row.error ? failed(row, 5) : [ms(row.medianMs), ms(row.p90Ms),
        x(row.medianMs, r.fastPath.find((f) => f.key === "node")?.medianMs), ms(row.minMs), String(row.runs)])])),
    ]),
    "", "## Summary", "", ...summaryTable(r),
    "", "## Targets", "", "| measure | target | measured | met |", "|---|---|---:|---|",
    ...r.targets.map((t) => cells([t.measure, t.target, t.measured, t.met])),
    ...(r.errors.length === 0 ? [] : ["", "## Failures", "", ...r.errors.map((e) => `- ${e.scenario}: ${e.message.split("\n")[0]}`)]),
    "", ROW_NOTES, "",
  ];
  return lines.join("\n");
}

/**
 * The headline table (the README quotes it): ours beside each peer and the floor, loopback, per codec. Times and
 * CPU as ratios "ours / peer"; counts of .ready files as each tool's own count.
 */
export function summaryTable(r) {
  const lines = [
    `${r.date.slice(0, 10)}, \`${r.command}\`, ${r.machine.nproc} × ${r.machine.cpu}. Ratios are ours / the peer's (below 1: ours is faster or cheaper); .ready counts are each tool's own; pgBackRest's brotli column is zst.`,
    "",
    "| measure (loopback) | codec | ours | vs wal-g | vs pgBackRest async | vs cp floor |",
    "|---|---|---:|---:|---:|---:|",
  ];
  const ratioCell = (a, b) => (a !== undefined && b ? `${(a / b).toFixed(2)}×` : "n/a");
  const count = (v) => (v === undefined ? "n/a" : String(v));
  const codecs = [...new Set([...r.restore, ...r.pgArchive, ...r.rearchive].map((row) => row.codec).filter((c) => c && c !== "-"))];
  for (const n of [...new Set(r.restore.map((row) => row.n))]) {
    for (const codec of codecs) {
      const get = (tool) => find(r.restore, { n, net: "loopback", codec: tool === "cp" || tool === "pg_wal" ? "-" : codec, tool });
      const ours = get("ours");
      if (!ours) continue;
      const limit = get("pg_wal");
      lines.push(cells([`recovery to latest through ${n} segments: time to promotion`, codec, `${s(ours.wallMs)} s`, ratioCell(ours.wallMs, get("wal-g")?.wallMs),
        ratioCell(ours.wallMs, get("pgbackrest")?.wallMs), `${ratioCell(ours.wallMs, get("cp")?.wallMs)}${limit ? ` (pg_wal limit: ${ratioCell(ours.wallMs, limit.wallMs)})` : ""}`]));
    }
  }
  for (const load of ["init", "tpcb"]) {
    for (const codec of codecs) {
      const get = (tool) => find(r.pgArchive.filter((row) => (row.minioData ?? "disk") === "disk"), { net: "loopback", codec: tool === "cp" ? "-" : codec, tool })?.loads.find((l) => l.load === load);
      const ours = get("ours");
      if (!ours) continue;
      const what = load === "init" ? `PostgreSQL archiving, \`pgbench -i -s ${r.pgArchive.find((row) => row.scale)?.scale}\`` : `PostgreSQL archiving, TPC-B ${ours.clients} clients ${ours.seconds} s`;
      lines.push(cells([`${what}: most .ready at once`, codec, count(ours.maxReady), count(get("wal-g")?.maxReady), count(get("pgbackrest")?.maxReady), count(get("cp")?.maxReady)]));
      lines.push(cells([`${what}: CPU per archived segment`, codec, `${ms(ours.cpuMsPerSegment)} ms`, ratioCell(ours.cpuMsPerSegment, get("wal-g")?.cpuMsPerSegment),
        ratioCell(ours.cpuMsPerSegment, get("pgbackrest")?.cpuMsPerSegment), ""]));
    }
  }
  for (const codec of codecs) {
    const get = (tool) => find(r.restore, { n: r.n, net: "loopback", codec, tool });
    const ours = get("ours");
    if (ours?.cpuMsPerSegment !== undefined) {
      lines.push(cells([`recovery through ${r.n} segments: CPU per restored segment`, codec, `${ms(ours.cpuMsPerSegment)} ms`, ratioCell(ours.cpuMsPerSegment, get("wal-g")?.cpuMsPerSegment),
        ratioCell(ours.cpuMsPerSegment, get("pgbackrest")?.cpuMsPerSegment), ""]));
    }
  }
  for (const codec of codecs) {
    const get = (tool) => find(r.rearchive, { codec, tool });
    const ours = get("ours");
    if (!ours) continue;
    lines.push(cells([`re-archiving ${r.n} segments already archived: wall`, codec, `${s(ours.wallMs)} s`, ratioCell(ours.wallMs, get("wal-g")?.wallMs), ratioCell(ours.wallMs, get("pgbackrest")?.wallMs), ""]));
    lines.push(cells([`re-archiving ${r.n} segments already archived: CPU per segment`, codec, `${ms(ours.cpuMsPerSegment)} ms`, ratioCell(ours.cpuMsPerSegment, get("wal-g")?.cpuMsPerSegment),
      ratioCell(ours.cpuMsPerSegment, get("pgbackrest")?.cpuMsPerSegment), ""]));
  }
  const peaks = largestPerTool(r);
  if (peaks.ours) lines.push(cells(["peak RSS of one process, any scenario", "all", `${mb(peaks.ours)} MB`, peaks["wal-g"] ? `${mb(peaks["wal-g"])} MB` : "n/a", peaks.pgbackrest ? `${mb(peaks.pgbackrest)} MB` : "n/a", ""]));
  return lines;
}

/** Each tool's largest process over every scenario, kB. */
function largestPerTool(r) {
  const peaks = {};
  const note = (tool, kb) => {
    if (kb) peaks[tool] = Math.max(peaks[tool] ?? 0, kb);
  };
  for (const row of [...r.archive, ...r.restore, ...r.rearchive, ...r.pgArchive].filter((x) => !x.error && !x.skipped)) note(row.tool, row.peakRssKb);
  for (const row of r.standby.filter((x) => !x.error && !x.skipped)) for (const facts of Object.values(row.rss ?? {})) note(row.tool, facts.peakRssKb);
  return peaks;
}

function loadName(load, row) {
  return load.load === "init" ? `pgbench -i -s ${row.scale}` : `TPC-B, ${load.clients} clients, ${load.seconds} s`;
}

/** Cells for a row that did not run (failed, or skipped with the reason), else undefined. */
function outcome(row, width) {
  if (row.skipped) return [`skipped: ${row.skipped.replaceAll("|", "/")}`, ...Array(width - 1).fill("")];
  if (row.error) return failed(row, width);
  return undefined;
}

function rss(row) {
  if (!row?.peakRssKb) return "n/a";
  return `${mb(row.peakRssKb)} (${row.peakWhere})`;
}

function range(row) {
  const runs = row.wallMsRuns ?? [];
  return runs.length < 2 ? "" : `${s(Math.min(...runs))}–${s(Math.max(...runs))}`;
}

function failed(row, width) {
  return [`FAILED: ${row.error.replaceAll("|", "/")}`, ...Array(width - 1).fill("")];
}

function cells(values) {
  return `| ${values.join(" | ")} |`;
}

const ROW_NOTES = `## What each row measures

- **Recovery to latest**: a fresh copy of the base backup (taken just before the pgbench load that wrote the
  segments) with recovery.signal and restore_command = the tool (\`cp <dir>/%f %p\` for the floor,
  \`wal-g wal-fetch %f %p\`, \`wal-restore %f %p\`, \`pgbackrest archive-get %f %p\` with archive-async=y,
  \`walg-daemon-client <socket> wal-fetch %f %p\`), reading the objects that the same tool pushed in the archive
  scenario (same codec). No recovery target: replay ends when segment N+1 is not found, then the server promotes.
  *to promotion s*: from \`pg_ctl start\` to the log line "database system is ready to accept connections"; the run
  fails unless pg_is_in_recovery() is false and all N segments were restored. The *pg_wal limit* is the same base
  backup with the N segments already in pg_wal and no recovery.signal: crash recovery from the backup's checkpoint
  through the same WAL, no restore_command at all, which no archive tool can beat. The *cp floor* reads from a
  local directory. Before each run the bench writes and deletes 2N segments' worth of files, so that every tool
  starts with the same recently freed memory (on this VM, memory left free for a few seconds goes back to the host,
  and touching it again costs ~40 ms per 16 MiB).
- **Archiving as PostgreSQL drives it**: a fresh cluster (fsync off, shared_buffers 128MB) with archive_command =
  the tool, \`pgbench -i -s S\`, then TPC-B (\`pgbench -c C -j 2 -T T\`); after each load, pg_switch_wal() and a wait
  until that segment is archived and no .ready file is left. *max .ready*: the most .ready files at any instant,
  from the times at which each appeared and was renamed to .done (inotify; at least the count sampled every 100 ms).
  *longest wait*: the most time one segment spent between those two events. *all archived after the load*: from
  the end of pgbench to the last rename. *archived*, *failed*: pg_stat_archiver over the load. *tps*: pgbench's, so
  a tool that takes the database's CPU shows there too. The cp row (\`cp %p <dir>/%f\`) is the floor.
- **Standby**: a primary (archive_mode = on) and a streaming standby made from it with pg_basebackup
  (archive_mode = always), both archiving with the same tool to the same prefix; \`pgbench -i\` on the primary. Every
  segment is pushed twice, and the second push of each finds it already archived. Figures per archiver, each tool's
  CPU counted apart for the primary's and the standby's commands.
- **Archive**: a data directory (copy of the base backup) whose pg_wal holds the N segments, each with
  archive_status/<name>.ready. For each segment in order, one process runs as postgres with cwd = the data
  dir and PGDATA set; after exit 0 the .ready is renamed to .done, as PostgreSQL's archiver does. The "wal-g daemon"
  rows use our own small C client (scripts/bench/lib/walg-daemon-client.c) since wal-g's release build ships none;
  it sends the same bytes as wal-g's Go client, so those rows measure the daemon with a C-sized client start.
  *wall s*: first start to last exit. *call ms*: each process start to exit. Each run writes to a fresh prefix;
  all N objects are checked.
- **Re-archive**: the same, into the prefix that the tool's first archive run filled: what PostgreSQL does after
  a crash between an upload and the rename of its .ready file, or a second archiver on the same prefix.
- **CPU ms/segment**: every command of a scenario runs under lib/call-meter.c, which puts it in the scenario's
  cgroup (v1 cpuacct) before exec; whatever it starts (our uploader and prefetch worker, pgBackRest's async
  processes, wal-g's helpers) is counted too, a wal-g daemon is moved in at its start. PostgreSQL, MinIO and the
  bench are not. Divided by the segments archived or restored.
- **Peak RSS (process)**: the largest resident set of one process of the tool: each call's ru_maxrss from the meter,
  and VmHWM sampled every 250 ms from the cgroup's long-lived processes; in brackets, which process.
- **20 ms RTT**: the tools reach MinIO through a TCP proxy that delays every chunk by 10 ms each way and the first
  bytes of a connection by another round trip (as a TCP handshake would). The kernel here has no \`sch_netem\`; the
  proxy models latency only, not bandwidth or TCP slow start.
- **Fast path**: a process started and awaited sequentially, as postgres (3 warm-ups where the call can
  be repeated). "segment in the local archive" is a real \`wal-restore\` served from WALNATIVE_LOCAL_ARCHIVE.
  "uploaded ahead": pg_wal holds the segments with .ready files; one untimed \`wal-archive\` of the first,
  a 1 s pause, then the next 8 timed in order. "prefetched": one untimed \`wal-restore\` of the first segment
  from MinIO, a 2 s pause, then the next 8 timed in order.`;
