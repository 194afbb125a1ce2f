// Synchronous cleanup that runs however the benchmark ends (normal exit, error, Ctrl-C, SIGTERM):
// registered steps run last-in first-out; processes we started are found by a marker in their environment.
import { readdirSync, readFileSync } from "node:fs";
import { sleepSync } from "./proc.mjs";

const steps = [];
let installed = false;
let ran = false;

/** Registers a synchronous step; returns a function that runs it now and unregisters it. */
export function onCleanup(label, step) {
  install();
  const entry = { label, step };
  steps.push(entry);
  return () => {
    const index = steps.indexOf(entry);
    if (index >= 0) steps.splice(index, 1);
    safely(entry);
  };
}

export function runCleanup() {
  if (ran) return;
  ran = true;
  while (steps.length > 0) safely(steps.pop());
}

function safely({ label, step }) {
  try {
    step();
  } catch (error) {
    process.stderr.write(`[bench] cleanup '${label}' failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

function install() {
  if (installed) return;
  installed = true;
  process.on("exit", runCleanup);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      process.stderr.write(`[bench] ${signal}: cleaning up\n`);
      runCleanup();
      process.exit(130);
    });
  }
}

/**
 * Pids of live processes whose environment contains `marker` (NAME=value). Every process the benchmark
 * starts gets the run's marker, and descendants inherit it, so this finds detached helpers too
 * (wal-g's wal-prefetch children, our prefetch worker) without matching anything else on the machine.
 */
export function markedPids(marker) {
  const found = [];
  const needle = Buffer.from(`${marker}\0`);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`).includes(needle) && !isZombie(entry)) found.push(Number(entry));
    } catch {
      // gone, or a kernel thread
    }
  }
  return found;
}

function isZombie(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}

/**
 * Lets processes carrying the marker exit by themselves for `graceMs`, then SIGTERM, then SIGKILL a
 * second later. Returns how many had to be signalled.
 */
export function killMarked(marker, graceMs = 2000) {
  let pids = waitGone(marker, graceMs);
  const signalled = pids.length;
  for (const pid of pids) signal(pid, "SIGTERM");
  pids = waitGone(marker, 1000);
  for (const pid of pids) signal(pid, "SIGKILL");
  return signalled;
}

function waitGone(marker, ms) {
  const deadline = Date.now() + ms;
  let pids = markedPids(marker);
  while (pids.length > 0 && Date.now() < deadline) {
    sleepSync(50);
    pids = markedPids(marker);
  }
  return pids;
}

function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
