// CPU of each tool, summed over all of its processes: every scenario gets a cgroup (v1, cpuacct) of its own,
// its commands join it through lib/call-meter.c before exec, and whatever they start (the uploader, prefetch
// workers, pgBackRest's async processes, wal-g's prefetch children, a daemon started through the meter)
// inherits it. cpuacct.usage is then the tool's CPU time in ns, and nothing of PostgreSQL, MinIO or the bench.
// Without a writable cpuacct hierarchy (cgroup v2 only, or a container without it) CPU is reported as n/a.
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { onCleanup } from "./cleanup.mjs";
import { postgresIds, sleepSync } from "./proc.mjs";

export const CPUACCT_ROOT = "/sys/fs/cgroup/cpuacct";

/**
 * The run's parent group, /sys/fs/cgroup/cpuacct/<work dir's name>; undefined (with the reason) when cgroups
 * cannot be used here. Removed at exit with its children.
 */
export function runCgroup(name) {
  try {
    if (!existsSync(join(CPUACCT_ROOT, "cpuacct.usage"))) return { reason: `no cgroup v1 cpuacct hierarchy at ${CPUACCT_ROOT}` };
    const dir = join(CPUACCT_ROOT, name);
    mkdirSync(dir);
    onCleanup("remove the run's cgroups", () => removeTree(dir));
    return { dir };
  } catch (error) {
    return { reason: `cannot create a cgroup under ${CPUACCT_ROOT}: ${error.message}` };
  }
}

/**
 * A scenario's group under the run's: { procs (the file the meter writes to), usageNs(), systemMs(), pids(), remove() }.
 * `run` is runCgroup's result; without a dir every method is inert and usageNs() and systemMs() are undefined.
 */
export function scenarioCgroup(run, key) {
  if (!run?.dir) return { procs: "-", usageNs: () => undefined, systemMs: () => undefined, pids: () => [], remove: () => undefined };
  const dir = join(run.dir, key);
  mkdirSync(dir);
  // The commands run as postgres and move themselves: v1 lets a process move one of the same uid when it
  // may write cgroup.procs.
  const { uid, gid } = postgresIds();
  for (const file of ["cgroup.procs", "tasks"]) chownSync(join(dir, file), uid, gid);
  return {
    procs: join(dir, "cgroup.procs"),
    usageNs: () => Number(readFileSync(join(dir, "cpuacct.usage"), "utf8").trim()),
    // The kernel's share (page faults, copies into and out of the page cache, socket reads and writes): "system <ticks>", USER_HZ 100.
    systemMs: () => 10 * Number(/^system (\d+)$/m.exec(readFileSync(join(dir, "cpuacct.stat"), "utf8"))?.[1] ?? NaN),
    pids: () => readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number),
    remove: () => removeTree(dir),
  };
}

/** Removes a group and its children; processes still in one are moved to the root group first. */
export function removeTree(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTree(join(dir, entry.name));
  }
  for (let attempt = 0; ; attempt++) {
    for (const pid of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
      try {
        writeFileSync(join(CPUACCT_ROOT, "cgroup.procs"), `${pid}\n`);
      } catch {
        // exited meanwhile
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      // EBUSY while an exiting process is still listed
      if (attempt >= 20) throw error;
      sleepSync(50);
    }
  }
}

/** Groups of earlier runs whose process is gone (named as their work dirs). */
export function removeStaleCgroups(isStale, say) {
  if (!existsSync(CPUACCT_ROOT)) return;
  for (const entry of readdirSync(CPUACCT_ROOT)) {
    if (!isStale(entry)) continue;
    try {
      removeTree(join(CPUACCT_ROOT, entry));
      say(`removed stale cgroup ${entry}`);
    } catch (error) {
      say(`cannot remove stale cgroup ${entry}: ${error.message}`);
    }
  }
}
