// The reader's side of the prefetch hand-over (wal-restore in Node; bin/wal-restore does the same in sh first):
// where the worker publishes, and taking a published segment while a live worker of this boot owns them.
import { copyFile } from "node:fs";
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { MARKS, NAMES, STATE_DIR } from "../../fastpath/protocol.js";
import { isAlive, readProcessFile } from "../../daemon/identity.js";
import { exists } from "../../io/fs.js";

export function prefetchDir(walDir: string): string {
  return join(walDir, STATE_DIR, "prefetch");
}

export function pidFile(dir: string): string {
  return join(dir, NAMES.workerPid);
}

/**
 * The worker publishes without fsync, so after a machine crash a published file may be torn while its name
 * survived: its files are served only while worker.pid names a live worker of this boot (daemon/identity.ts).
 * Where the boot cannot be told (no /proc), no file is ever served and the worker fsyncs nothing in vain.
 */
async function servedByLiveWorker(dir: string): Promise<boolean> {
  return isAlive(await readProcessFile(pidFile(dir)));
}

/**
 * Hands a prefetched segment to the destination: one attempt, no waiting. bin/wal-restore has already waited, by
 * the budgets of fastpath/protocol.ts, for a starting worker, a segment in hand, or a download that grows; Node
 * starts only when that wait ended without the file, so waiting again here would only add up. The archive's last
 * segment (NAME.keep) is copied, as PostgreSQL reads it again; anything else is renamed. A "not in the archive"
 * from the worker (NAME.missing) is not used here: this call asks storage, the authority, itself.
 */
export async function takePrefetched(walDir: string, name: string, destination: string): Promise<boolean> {
  const dir = prefetchDir(walDir);
  if (!(await servedByLiveWorker(dir))) return false;
  const published = join(dir, name);
  try {
    if (await exists(`${published}${MARKS.keep}`)) {
      const temp = `${destination}.wal-native.tmp`;
      await new Promise<void>((resolve, reject) => copyFile(published, temp, (error) => (error ? reject(error) : resolve())));
      await rename(temp, destination);
    } else await rename(published, destination);
    return true;
  } catch {
    return false; // not published: Node fetches it
  }
}
