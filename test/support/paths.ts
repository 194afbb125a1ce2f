// Shared paths for tests and a helper that lets the postgres OS user reach files owned by root.
import { chmod, stat } from "node:fs/promises";
import { dirname, parse, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REPO_BIN = resolve(REPO_ROOT, "bin");
/** Every PostgreSQL work directory of a run starts with this, followed by the run id. */
export const WORK_DIR_PREFIX = "/tmp/wal-native-test-";
export const MINIO_DIR_PREFIX = "/tmp/wal-native-minio-";

/**
 * Adds o+x to `path` and every ancestor that lacks it, so the postgres user can traverse to
 * files below (the built commands in bin/ and dist/, data dirs under mkdtemp's 0700 dirs).
 */
export async function ensureTraversable(path: string): Promise<void> {
  const chain: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    chain.push(p);
    if (p === parse(p).root) break;
  }
  for (const dir of chain.reverse()) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) await chmod(dir, (mode & 0o7777) | 0o001);
  }
}
