// Peak memory of the tools: per call from GNU time's %M (the wrapper every command runs under), and for
// long-lived helpers (prefetch workers, wal-g daemon) by sampling VmHWM in /proc while a scenario runs.
import { readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { TIME_BIN } from "./proc.mjs";

/** Processes that are not tools under test: PostgreSQL, the wrapper, MinIO, the delay proxy. */
const IGNORED = new Set(["postgres", "pg_ctl", "time", "minio", "sh", "bash"]);

/** Prefix for a command so that its peak RSS (kB) and elapsed seconds are appended to `file`. */
export function timeWrapper(file) {
  return [TIME_BIN, "-f", "%e %M", "-a", "-o", file];
}

/** Parses a wrapper file: [{ seconds, kb }] (GNU time adds "Command exited with non-zero status" lines). */
export function readWrapperFile(text) {
  return text.split("\n").map((line) => /^(\d+(?:\.\d+)?) (\d+)$/.exec(line.trim()))
    .filter(Boolean).map((m) => ({ seconds: Number(m[1]), kb: Number(m[2]) }));
}

/** Samples every `intervalMs` until stop(); stop() returns { "<command>": peak kB }. */
export function sampleMarked(markerEnv, intervalMs = 250) {
  const [name, value] = Object.entries(markerEnv)[0];
  const needle = Buffer.from(`${name}=${value}\0`);
  const peaks = {};
  const sample = () => {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
        if (IGNORED.has(comm) || comm.startsWith("kworker")) continue;
        if (!readFileSync(`/proc/${entry}/environ`).includes(needle)) continue;
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

/**
 * "node /x/dist/wal-restore.cjs 0000… pg_wal/RECOVERYXLOG" -> "node wal-restore.cjs"; wal-g keeps its verb
 * ("wal-g wal-prefetch"); long options stay, so a worker ("node wal-restore.cjs --prefetch-worker") is told
 * apart from the calls.
 */
function commandKey(cmdline) {
  const words = cmdline.slice(0, 2).map((arg) => basename(arg)).filter((w) => !/^[0-9A-F]{24}/.test(w) && !w.startsWith("-"));
  return [...words, ...cmdline.slice(1).filter((arg) => /^--[a-z]/.test(arg))].join(" ");
}
