// Turns the benchmark results into bench-out/results.json, RESULTS.md (tables with absolute times and
// ratios, the issue's targets, what each row measures) and bench.png (scripts/bench/chart.py).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderChart } from "./lib/chart.mjs";
import { mostReady } from "./lib/ready-queue.mjs";

const NET = { loopback: "loopback", rtt20: "20 ms RTT" };
const s = (ms) => (ms === undefined ? "n/a" : (ms / 1000).toFixed(2));
const ms = (value) => (value === undefined ? "n/a" : value.toFixed(1));
const mb = (kb) => (kb === undefined || !Number.isFinite(kb) ? "n/a" : (kb / 1024).toFixed(0));
const x = (a, b) => (a === undefined || b === undefined || b === 0 ? "n/a" : (a / b).toFixed(2));

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

const MINIO_DATA = { disk: "same disk as PostgreSQL", tmpfs: "tmpfs (diagnostic)" };

function find(rows, match) {
  return rows.find((row) => Object.entries(match).every(([k, v]) => row[k] === v) && !row.error);
}

function markdown(r) {
  const m = r.machine;
  const lines = [
    "# wal-native benchmark", "",
    `${r.date.slice(0, 16).replace("T", " ")} UTC · ${m.nproc} × ${m.cpu}, ${m.memoryGiB} GiB, Linux ${m.kernel} · ` +
      `Node ${m.node} · ${m.postgres} · ${r.walg.split(/\s+/).slice(0, 3).join(" ")} · **N = ${r.n}** segments of 16 MiB` +
      (r.quick ? " (--quick)" : ""),
    "",
    `Data: ${r.dataSource}. Both tools: WALG_UPLOAD_CONCURRENCY=${r.settings.WALG_UPLOAD_CONCURRENCY}, ` +
      `WALG_DOWNLOAD_CONCURRENCY=${r.settings.WALG_DOWNLOAD_CONCURRENCY}; our local archive and log files off. ` +
      (r.restore.some((row) => row.net === "rtt20")
        ? "One MinIO on loopback; \"20 ms RTT\" goes through a userspace proxy that delays each direction by 10 ms."
        : "One MinIO on loopback; the 20 ms RTT scenario was not run."),
    ...(r.daemonNote ? ["", `wal-g daemon mode not measured: ${r.daemonNote}.`] : []),
    "", `Each archive and restore cell ran ${r.repeat} time(s), round robin over the tools; *wall s* is the median, *range s* the spread.`,
    "", "## Archive: N segments, one process per segment, in order, .ready files present", "",
    "| network | codec | tool | wall s | median call ms | p90 call ms | peak RSS MB | ours / wal-g | ours / wal-g daemon | range s |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ...r.archive.map((row) => {
      const peer = (tool) => find(r.archive, { net: row.net, codec: row.codec, tool });
      const ours = row.tool === "ours";
      return cells([NET[row.net], row.codec, row.tool, ...(row.error ? failed(row, 7) : [s(row.wallMs), ms(row.callMs.median),
        ms(row.callMs.p90), mb(row.peakRssKb), ours ? x(row.wallMs, peer("wal-g")?.wallMs) : "",
        ours ? x(row.wallMs, peer("wal-g daemon")?.wallMs) : "", range(row)])]);
    }),
    "", "## Restore: recovery from the base backup through the N segments until the server is promoted", "",
    "| network | tool | wall s | median call ms (±10) | peak RSS MB | × cp floor | ours / wal-g | range s |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
    ...r.restore.map((row) => {
      const floor = find(r.restore, { net: "loopback", tool: "cp" })?.wallMs;
      const walg = find(r.restore, { net: row.net, tool: "wal-g" })?.wallMs;
      return cells([NET[row.net], row.tool, ...(row.error ? failed(row, 6) : [s(row.wallMs), ms(row.callMs.median),
        mb(row.peakRssKb), x(row.wallMs, floor), row.tool === "ours" ? x(row.wallMs, walg) : "", range(row)])]);
    }),
    "", "## Fast-path call cost (process start to exit, as postgres)", "",
    "| command | median ms | p90 ms | × node -e 0 | min ms | runs |", "|---|---:|---:|---:|---:|---:|",
    ...r.fastPath.map((row) => cells([row.label, ...(row.error ? failed(row, 5) : [ms(row.medianMs), ms(row.p90Ms),
      x(row.medianMs, r.fastPath.find((f) => f.key === "node")?.medianMs), ms(row.minMs), String(row.runs)])])),
    ...(r.pgbench.length === 0 ? [] : [
      "", `## Archiver lag: pgbench -i -s ${r.pgbench[0].scale} with archive_command = the tool (MinIO, lz4)`, "",
      "| tool | MinIO data | max .ready | in 100 ms samples | longest wait ms | a segment every ms | longest upload ms (storage) | pgbench s | until archive caught up s | archived | failed | peak RSS MB |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...r.pgbench.map((row) => cells([row.tool, MINIO_DATA[row.minioData ?? "disk"], ...(row.error ? failed(row, 10) : [String(mostReady(row)), String(row.maxReady),
        ms(row.longestWaitMs), ms(row.segmentEveryMs), upload(row), s(row.pgbenchMs),
        s(row.drainMs), String(row.archived), String(row.failed), mb(row.peakRssKb)])])),
    ]),
    "", "## Targets (issue 4)", "", "| measure | target | measured | met |", "|---|---|---:|---|",
    ...r.targets.map((t) => cells([t.measure, t.target, t.measured, t.met])),
    ...(r.errors.length === 0 ? [] : ["", "## Failures", "", ...r.errors.map((e) => `- ${e.scenario}: ${e.message.split("\n")[0]}`)]),
    "", ROW_NOTES, "",
  ];
  return lines.join("\n");
}

/** Our longest upload, with the part after compression (the store's) in brackets. */
function upload(row) {
  if (row.longestUploadMs === undefined) return "";
  return row.longestUploadStorageMs === undefined ? ms(row.longestUploadMs) : `${ms(row.longestUploadMs)} (${ms(row.longestUploadStorageMs)})`;
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

/** The issue's targets against what was measured; "n/a" where a scenario was skipped or failed. */
function targets(r) {
  const out = [];
  const ratio = (measure, target, a, b, limit) => {
    const value = a !== undefined && b !== undefined ? a / b : undefined;
    out.push({ measure, target, measured: value === undefined ? "n/a" : `${value.toFixed(2)}×`,
      met: value === undefined ? "n/a" : value <= limit ? "yes" : `no (by ${round((value / limit - 1) * 100)} %)` });
  };
  const arch = (net, codec, tool) => find(r.archive, { net, codec, tool })?.wallMs;
  const rest = (net, tool) => find(r.restore, { net, tool })?.wallMs;
  for (const codec of ["lz4", "brotli"]) {
    ratio(`archive, loopback, ${codec}: ours / wal-g`, "≤ 0.8×", arch("loopback", codec, "ours"), arch("loopback", codec, "wal-g"), 0.8);
  }
  ratio("archive, 20 ms RTT, lz4: ours / wal-g", "≤ 0.5×", arch("rtt20", "lz4", "ours"), arch("rtt20", "lz4", "wal-g"), 0.5);
  ratio("recovery, loopback: ours / cp floor", "≤ 1.3×", rest("loopback", "ours"), rest("loopback", "cp"), 1.3);
  ratio("recovery, loopback: ours / wal-g", "≤ 0.7×", rest("loopback", "ours"), rest("loopback", "wal-g"), 0.7);
  ratio("recovery, 20 ms RTT: ours / cp floor", "≤ 1.6×", rest("rtt20", "ours"), rest("loopback", "cp"), 1.6);
  const node = r.fastPath.find((f) => f.key === "node")?.medianMs;
  for (const row of r.fastPath.filter((f) => f.key !== "node" && !f.error)) {
    ratio(`fast path: ${row.label} / node -e 0`, "≤ 1.3×", row.medianMs, node, 1.3);
  }
  const rss = peakOf(r);
  const peak = rss && rss.kb / 1024;
  out.push({ measure: "peak RSS of any wal-native process", target: "≤ 150 MB",
    measured: rss ? `${peak.toFixed(0)} MB (${rss.where})` : "n/a",
    met: rss ? (peak <= 150 ? "yes" : `no (by ${round(peak - 150)} MB)`) : "n/a" });
  // The headline is the pass with MinIO on the shared disk, as every other scenario; the tmpfs pass is quoted beside it.
  const lag = r.pgbench.find((row) => row.tool === "ours" && (row.minioData ?? "disk") === "disk" && !row.error);
  const lagTmpfs = find(r.pgbench, { tool: "ours", minioData: "tmpfs" });
  out.push({ measure: `pgbench -i -s ${lag?.scale ?? 100} with wal-archive: max .ready`, target: "≤ 4",
    measured: lag ? `${mostReady(lag)}${lagTmpfs ? ` (MinIO data in tmpfs: ${mostReady(lagTmpfs)})` : ""}` : "n/a",
    met: lag ? (mostReady(lag) <= 4 ? "yes" : `no (${mostReady(lag)})`) : "n/a" });
  return out;
}

/** Whole numbers, but one decimal for small misses so that "by 0" never appears. */
function round(value) {
  return value < 10 ? value.toFixed(1) : value.toFixed(0);
}

/** Our largest peak RSS, and where: the scenario, and the helper process when that was the largest. */
function peakOf(r) {
  let best;
  const scenarios = [...r.archive.map((row) => [row, `archive ${NET[row.net]} ${row.codec}`]),
    ...r.restore.map((row) => [row, `restore ${NET[row.net]}`]), ...r.pgbench.map((row) => [row, "pgbench"])];
  for (const [row, where] of scenarios) {
    if (row.tool !== "ours" || row.error || !row.peakRssKb) continue;
    if (best && best.kb >= row.peakRssKb) continue;
    const helper = Object.entries(row.helperRssKb ?? {}).find(([, kb]) => kb === row.peakRssKb)?.[0];
    best = { kb: row.peakRssKb, where: helper ? `${where}, ${helper}` : `${where}, one call` };
  }
  return best;
}

const ROW_NOTES = `## What each row measures

- **Archive**: a data directory (copy of the base backup) whose pg_wal holds the N segments, each with
  archive_status/<name>.ready. For each segment in order, one process runs as postgres with cwd = the data
  dir and PGDATA set: \`wal-g wal-push pg_wal/<f>\`, \`wal-archive pg_wal/<f> <f>\`, or
  \`walg-daemon-client <socket> wal-push <f>\` (a \`wal-g daemon\` started beforehand); after exit 0 the .ready
  is renamed to .done, as PostgreSQL's archiver does. The "wal-g daemon" rows use our own small C client
  (scripts/bench/lib/walg-daemon-client.c, built with \`cc -O2\`) since wal-g's release build ships none; it
  sends the same bytes as wal-g's Go client (one request, one reply byte per connection), so those rows
  measure the daemon with a C-sized client start rather than a Go one. *wall s*: first start to last exit.
  *call ms*: each process start to exit. Each run writes to a fresh prefix of the same MinIO; all N objects are checked.
- **Restore**: a fresh copy of the base backup (taken just before the pgbench load that wrote the N
  segments) with recovery.signal and restore_command = \`cp <dir>/%f %p\` (the floor), \`wal-g wal-fetch %f %p\`,
  \`wal-restore %f %p\` or \`walg-daemon-client <socket> wal-fetch %f %p\`, reading the lz4 objects that the same
  tool pushed in the archive scenario. No recovery target: replay ends when segment N+1 is not found, then
  the server promotes. *wall s*: from \`pg_ctl start\` to the log line "database system is ready to accept
  connections"; the run fails unless pg_is_in_recovery() is false and all N segments were restored.
  *median call ms* comes from GNU time's %e, which has 10 ms resolution.
  *× cp floor* compares with the loopback cp run (cp does not touch the network).
  Before each run the bench writes and deletes 2N segments' worth of files, so that every tool starts
  with the same recently freed memory: on this VM, memory left free for a few seconds goes back to the
  host, and touching it again costs ~40 ms per 16 MiB (3 ms when recently freed); a recovery fills the page
  cache with the N restored segments, so without this the time depended on what the run before had freed.
- **20 ms RTT**: the same, with the tools talking to MinIO through a TCP proxy that delays every chunk by
  10 ms each way and the first bytes of a connection by another round trip (as a TCP handshake would).
  The kernel here has no \`sch_netem\`, so \`tc netem\` is not available; the proxy models latency only, not
  bandwidth or TCP slow start.
- **Peak RSS**: the largest of GNU time's %M over every call (each command runs under \`/usr/bin/time\`, for
  every tool alike), and of VmHWM sampled every 250 ms from helper processes that outlive a call
  (prefetch workers, the wal-g daemon).
- **Fast path**: a process started and awaited sequentially, as postgres (3 warm-ups where the call can
  be repeated). "segment in the local archive" is a real \`wal-restore\` served from WALNATIVE_LOCAL_ARCHIVE.
  "uploaded ahead": pg_wal holds the segments with .ready files; one untimed \`wal-archive\` of the first,
  a 1 s pause, then the next 8 timed in order (.ready renamed to .done after each), whatever the tool
  does. "prefetched": one untimed \`wal-restore\` of the first segment from MinIO, a 2 s pause, then the
  next 8 timed in order.
- **Archiver lag**: a fresh cluster with archive_command = the tool; .ready files counted every 100 ms during
  \`pgbench -i\` ("in 100 ms samples"); "max .ready" is the most at any instant, from when each .ready file
  appeared and was renamed to .done (inotify; at least the sampled count). "until archive caught up" runs
  from pgbench's start until no .ready file is left. "longest wait":
  the most time between a segment's .ready file appearing and the archiver renaming it to .done (inotify).
  "a segment every": PostgreSQL's fastest pace, over 8 segments in a row. A tool that acknowledges a segment only
  once storage holds it has about wait / pace files behind at that moment. "longest upload": ours only, from
  the start of an upload to storage's confirmation (the uploader's debug log); in brackets the part of it after
  the segment was read and compressed, i.e. waiting for the store. MinIO
  fdatasyncs every object; its data shares the disk that PostgreSQL writes to, as in every other scenario.
  A second pass, a diagnostic, uses a MinIO whose data is in /dev/shm. That pass shows how much of the lag
  comes from those syncs waiting behind PostgreSQL's writes; a remote S3 does not share the database's disk.
  The target is judged on the first pass.`;
