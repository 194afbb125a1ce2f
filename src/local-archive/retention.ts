// Retention of the local fast-recovery archive: bounded by size and age, oldest first, and never a
// file that storage does not hold yet (it may be the only copy). Replaces the runbook's rm -f wal_archive/*.
import { stat, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Env } from "../config.js";
import { ConfigError } from "../errors.js";
import { formatBytes } from "../format.js";
import type { Logger } from "../log.js";
import type { Storage } from "../storage/storage.js";
import { candidateKeys } from "../wal/archive-keys.js";
import { type LocalFile, readLocalUsage } from "./usage.js";

export interface RetentionLimits {
  /** undefined: no size bound. */
  readonly maxBytes?: number;
  /** undefined: no age bound. */
  readonly maxAgeMs?: number;
}

export interface PruneResult {
  readonly removed: LocalFile[];
  /** Due for eviction but not (yet) in storage: kept. */
  readonly notInStorage: LocalFile[];
  readonly keptFiles: number;
  readonly keptBytes: number;
}

const DEFAULT_MAX_MB = 4096;
const DEFAULT_MAX_AGE_HOURS = 72;
/** Automatic pruning after a push runs at most this often (a stamp file's mtime remembers the last run). */
export const AUTO_PRUNE_INTERVAL_MS = 5 * 60_000;
const STAMP = ".last-prune";

/** WALNATIVE_LOCAL_ARCHIVE_MAX_MB (default 4096) and _MAX_AGE_HOURS (default 72); 0 switches a bound off. */
export function retentionLimits(env: Env): RetentionLimits {
  const mb = setting(env, "WALNATIVE_LOCAL_ARCHIVE_MAX_MB", DEFAULT_MAX_MB);
  const hours = setting(env, "WALNATIVE_LOCAL_ARCHIVE_MAX_AGE_HOURS", DEFAULT_MAX_AGE_HOURS);
  return { maxBytes: mb === 0 ? undefined : mb * 1048576, maxAgeMs: hours === 0 ? undefined : hours * 3_600_000 };
}

/**
 * Oldest first, a file is due while the archive is over maxBytes or the file is older than maxAgeMs
 * (every file with `all`). A due file is deleted only after storage confirms one of its object keys.
 */
export async function pruneLocalArchive(
  dir: string,
  storage: Storage,
  limits: RetentionLimits & { readonly all?: boolean; readonly dryRun?: boolean; readonly now?: Date },
): Promise<PruneResult> {
  const now = (limits.now ?? new Date()).getTime();
  const usage = await readLocalUsage(dir);
  let bytes = usage.bytes;
  const removed: LocalFile[] = [];
  const notInStorage: LocalFile[] = [];
  for (const file of usage.files) {
    const tooBig = limits.maxBytes !== undefined && bytes > limits.maxBytes;
    const tooOld = limits.maxAgeMs !== undefined && now - file.mtime.getTime() > limits.maxAgeMs;
    if (!limits.all && !tooBig && !tooOld) continue;
    const held = await storage.statAll(candidateKeys(file.name).map((candidate) => candidate.key));
    if (held.length === 0) {
      notInStorage.push(file);
      continue;
    }
    if (!limits.dryRun) await unlink(join(dir, file.name)).catch(ignoreMissing);
    removed.push(file);
    bytes -= file.size;
  }
  return { removed, notInStorage, keptFiles: usage.files.length - removed.length, keptBytes: bytes };
}

/** After a push: prune when the last run is older than AUTO_PRUNE_INTERVAL_MS. Never fails the push. */
export async function pruneIfDue(dir: string, storage: () => Promise<Storage>, env: Env, log: Logger): Promise<PruneResult | undefined> {
  const stamp = join(dir, STAMP);
  try {
    const last = await stat(stamp).then((info) => info.mtime.getTime(), () => 0);
    if (Date.now() - last < AUTO_PRUNE_INTERVAL_MS) return undefined;
    // Stamp first: concurrent archivers (upload-ahead) must not all prune at once.
    await writeFile(stamp, "", { mode: 0o600 }).then(() => utimes(stamp, new Date(), new Date()));
    // Storage is opened only now: most pushes end at the stamp check above (the S3 SDK costs ~0.1 s to load).
    const result = await pruneLocalArchive(dir, await storage(), retentionLimits(env));
    if (result.removed.length) log.info(`pruned ${describePrune(result)}`);
    if (result.notInStorage.length) log.warn(`kept ${result.notInStorage.length} local WAL files due for pruning that storage does not hold yet`);
    return result;
  } catch (error) {
    // No local archive directory (yet): nothing to prune; the push already warned if it could not make one.
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    log.warn(`could not prune the local archive ${dir}: ${(error as Error).message}`);
    return undefined;
  }
}

export function describePrune(result: PruneResult): string {
  const freed = result.removed.reduce((sum, file) => sum + file.size, 0);
  return `${result.removed.length} local WAL files (${formatBytes(freed)}); kept ${result.keptFiles} (${formatBytes(result.keptBytes)})`;
}

function setting(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(name, `'${raw}' is not a number >= 0 (0 switches this bound off)`);
  return value;
}

function ignoreMissing(error: unknown): void {
  if ((error as { code?: string }).code !== "ENOENT") throw error;
}
