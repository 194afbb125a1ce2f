// Whether a helper may outlive the call that starts it. A process whose parent exits is handed to the nearest
// subreaper, else to PID 1 of its PID namespace. When that is the postmaster (PostgreSQL as PID 1: a container
// without an init), the postmaster reaps our orphan as if it were one of its own children, and one that dies by a
// signal or exits with a status other than 0 or 1 is taken for a crashed backend: every session is terminated and
// the server reinitializes (postmaster.c, PostgreSQL 13-17 CleanupBackend "server process", 18 "untracked child
// process"; seen on each of 13-18). A helper can keep its own exit status at 0 (daemon/lifetime.ts), but nothing keeps
// SIGKILL from it (the OOM killer, a kill -9): so under such a postmaster no helper is started at all, and the calls
// do their work within themselves (archive: upload-ahead in the call; restore: no prefetch).
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** postmaster.pid's first line names the postmaster's pid in its own namespace: 1 means it is that namespace's init. */
export function postmasterIsInit(postmasterPid: string | undefined): boolean {
  return postmasterPid?.split("\n", 1)[0]?.trim() === "1";
}

let answer: boolean | undefined;

/**
 * False when the postmaster of the data directory we run in (PostgreSQL starts archive_command and restore_command
 * there, in its own PID namespace) is PID 1: it would adopt the helper. True anywhere else, also where there is no
 * postmaster.pid (a command run by hand).
 */
export function helpersMayOutliveCalls(dataDir: string = process.cwd()): boolean {
  if (dataDir !== process.cwd()) return !postmasterIsInit(readPostmasterPid(dataDir));
  answer ??= !postmasterIsInit(readPostmasterPid(dataDir));
  return answer;
}

function readPostmasterPid(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
}
