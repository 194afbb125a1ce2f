// Peak memory of the tools, per process: per call from the call meter's line (lib/call-meter.c, the wrapper
// every measured command runs under: the waited child's ru_maxrss), and for long-lived helpers (the uploader,
// prefetch workers, pgBackRest's async processes, the wal-g daemon) by sampling VmHWM in /proc while a
// scenario runs: the members of the scenario's cgroup, or without cgroups the processes carrying its marker.
import { readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";

/** Processes that are not tools under test: PostgreSQL, the meter, MinIO, the delay proxy, shells. */
const IGNORED = new Set(["postgres", "pg_ctl", "time", "call-meter", "minio", "sh", "bash", "dash"]);

/** Prefix for a command: its elapsed seconds, peak RSS (kB) and CPU are appended to `file`, and it joins `cgroup`. */
export function meterWrapper(tools, file, cgroup) {
  return [tools.meter, file, cgroup?.procs ?? "-"];
}

/** The same prefix as one string, for archive_command and restore_command (paths without spaces or quotes). */
export function meterPrefix(tools, file, cgroup) {
  return meterWrapper(tools, file, cgroup).join(" ");
}

/**
 * Samples every `intervalMs` until stop(); stop() returns { "<command>": peak kB }. The processes sampled are
 * those of `cgroup` when it has a dir, else those whose environment carries `markerEnv`.
 */
export function sampleMarked(markerEnv, intervalMs = 250, cgroup) {
  const [name, value] = Object.entries(markerEnv)[0];
  const needle = Buffer.from(`${name}=${value}\0`);
  const peaks = {};
  const grouped = cgroup && cgroup.procs !== "-";
  const candidates = () => (grouped ? safePids(cgroup).map(String) : readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)));
  const sample = () => {
    for (const entry of candidates()) {
      try {
        const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
        if (IGNORED.has(comm) || comm.startsWith("kworker")) continue;
        if (!grouped && !readFileSync(`/proc/${entry}/environ`).includes(needle)) continue;
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
        if (cmdline.some((arg) => arg.endsWith("delay-proxy.mjs"))) continue;
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, "utf8"));
        if (!hwm) continue;
        const key = commandKey(cmdline);
        peaks[key] = Math.max(peaks[key] ?? 0, Number(hwm[1]));
      } catch {
        // exited while we looked
      }
    }
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

function safePids(cgroup) {
  try {
    return cgroup.pids();
  } catch {
    return [];
  }
}

/**
 * A short name for a process: the program, its script, its verbs and its flags without values.
 * "node --expose-gc --max-semi-space-size=1 /x/dist/wal-archive.cjs --upload-worker" -> "node --expose-gc wal-archive.cjs
 * --upload-worker"; "wal-g wal-prefetch 0000… /x/pg_wal/.wal-g/prefetch" -> "wal-g wal-prefetch"; pgBackRest's
 * "pgbackrest --config=… --process=1 … archive-get:local" -> "pgbackrest archive-get:local". So a worker is told apart
 * from the calls, and the many processes of one kind share one entry (their largest).
 */
function commandKey(cmdline) {
  const [program, ...args] = cmdline;
  const words = [basename(program)];
  for (const arg of args) {
    if (arg.startsWith("--")) {
      if (!arg.includes("=")) words.push(arg);
      continue;
    }
    const word = basename(arg);
    if (/^[a-z][\w-]*(:[a-z]+)?$/.test(word) || /^[\w-]+\.[cm]?js$/.test(word)) words.push(word);
  }
  return words.join(" ");
}

/** The largest peak of one process in a scenario: { peakRssKb, peakWhere } ("a call" or the helper's command). */
export function peakOf(calls, helperRssKb = {}) {
  const callPeak = Math.max(0, ...calls.map((c) => c.kb));
  const [helper, helperPeak] = Object.entries(helperRssKb).reduce((best, entry) => (entry[1] > best[1] ? entry : best), ["", 0]);
  return helperPeak > callPeak ? { peakRssKb: helperPeak, peakWhere: helper } : { peakRssKb: callPeak, peakWhere: "a call" };
}
