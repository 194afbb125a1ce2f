// Upload-ahead: while PostgreSQL waits for one file, also push others that archive_status lists as
// ready, and record each confirmed upload so PostgreSQL's later call for it returns at once.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Env } from "../config.js";
import type { Logger } from "../log.js";
import { isSegmentName, isWalFileName } from "../wal/file-name.js";
import { candidateKeys } from "../wal/archive-keys.js";
import { claimUpload, readUploadRecord, recordedNames, releaseClaim, writeUploadRecord } from "./records.js";
import { type PushContext, pushWalFile } from "./push/push.js";

export interface AheadOptions {
  readonly walDir: string;
  /** The file this call was asked for: never uploaded twice in one call. */
  readonly current: string;
  readonly env: Env;
  /** Uploads running at once (WALG_UPLOAD_CONCURRENCY - 1, as wal-g's background uploader). */
  readonly concurrency: number;
  /** Files per call: bounds how long one archive_command call can take. */
  readonly limit: number;
  /** No new upload starts after this long: PostgreSQL marks nothing done while the call runs. */
  readonly budgetMs?: number;
}

/**
 * Long calls upload more per Node start but hold back PostgreSQL's bookkeeping (its .ready files
 * pile up meanwhile); two seconds archived a backlog fastest.
 */
const DEFAULT_BUDGET_MS = 2000;

/** Uploads what it can; failures only cost PostgreSQL a normal push later, so they are logged, never thrown. */
export async function uploadAhead(options: AheadOptions, context: PushContext): Promise<number> {
  if (options.concurrency < 1 || options.limit < 1) return 0;
  const queue = await readyFiles(options);
  const deadline = Date.now() + (options.budgetMs ?? DEFAULT_BUDGET_MS);
  // The files compress while the listing runs; each write waits for its answer.
  let found: Listing = { absent: new Set(), present: new Set() };
  const listing = lookInOneList(queue, context).then((result) => (found = result), () => found);
  const knownAbsent = async (name: string) => (await listing).absent.has(name);
  const knownPresent = (name: string) => found.present.has(name);
  let uploaded = 0;
  const worker = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined && Date.now() < deadline; name = queue.shift()) {
      if (await uploadOne(name, options, { ...context, knownAbsent, knownPresent })) uploaded += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, queue.length) }, worker));
  return uploaded;
}

/** What one listing found for the queued segments of one log: those in no form in the archive, and those in it. */
export interface Listing {
  readonly absent: Set<string>;
  readonly present: Set<string>;
}

/**
 * Which queued segments of one log are in no form in the archive and which are, from a single listing
 * (S3: one LIST of their common prefix) instead of one round trip per file. A conditional write still
 * guards each upload against a push that lands in between.
 */
export async function lookInOneList(queue: readonly string[], context: PushContext): Promise<Listing> {
  const log = queue[0]?.slice(0, 16);
  const batch = queue.filter((name) => isSegmentName(name) && name.slice(0, 16) === log);
  if (batch.length === 0) return { absent: new Set(), present: new Set() };
  const storage = await context.storage();
  const found = new Set((await storage.statAll(batch.flatMap((name) => candidateKeys(name).map((c) => c.key)))).map((info) => info.key));
  const archived = (name: string) => candidateKeys(name).some((candidate) => found.has(candidate.key));
  return { absent: new Set(batch.filter((name) => !archived(name))), present: new Set(batch.filter(archived)) };
}

/** Ready files that no valid record shows in storage, at most `limit`, in PostgreSQL's order. */
export async function readyFiles(options: Pick<AheadOptions, "walDir" | "current" | "env" | "limit">): Promise<string[]> {
  return unrecorded(options.walDir, await readyNames(options.walDir, options.current), options.env, options.limit);
}

/** Names with a .ready file, in PostgreSQL's own order (pgarch.c: timeline history files first, then the oldest WAL file). */
export async function readyNames(walDir: string, current = ""): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(join(walDir, "archive_status"));
  } catch {
    return [];
  }
  const names = entries
    .filter((entry) => entry.endsWith(".ready"))
    .map((entry) => entry.slice(0, -".ready".length))
    .filter((name) => name !== current && isWalFileName(name));
  return names.sort((a, b) => Number(b.endsWith(".history")) - Number(a.endsWith(".history")) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The first `limit` of names that no valid record shows in storage. Each look opens a file, so callers pass
 * only names they know nothing about yet, and stop at what they can start.
 */
export async function unrecorded(walDir: string, names: readonly string[], env: Env, limit: number): Promise<string[]> {
  const wanted: string[] = [];
  if (limit < 1) return wanted;
  const pushed = await recordedNames(walDir, "pushed");
  for (const name of names) {
    if (!(await inStorage(walDir, name, env, pushed.has(name)))) wanted.push(name);
    if (wanted.length >= limit) break;
  }
  return wanted;
}

/** A valid record says the file is in storage: uploaded ahead, or pushed by a call while the uploader ran. */
async function inStorage(walDir: string, name: string, env: Env, maybePushed: boolean): Promise<boolean> {
  const path = join(walDir, name);
  if ((await readUploadRecord(walDir, name, path, env)) !== undefined) return true;
  return maybePushed && (await readUploadRecord(walDir, name, path, env, "pushed")) !== undefined;
}

/** Pushes one ready file and records it; false (logged) when it failed or another process is uploading it. */
export async function uploadOne(
  name: string, options: Pick<AheadOptions, "walDir" | "env">, context: PushContext, claimed = false,
): Promise<boolean> {
  const path = join(options.walDir, name);
  if (!claimed && !(await claimUpload(options.walDir, name).catch(() => false))) return false;
  try {
    // Another process may have pushed and recorded it between the listing and this claim.
    if (await inStorage(options.walDir, name, options.env, true)) return true;
    const { outcome, summary, storedBytes } = await pushWalFile(path, name, { ...context, log: infoAsDebug(context.log) });
    // Found already archived with equal content (PostgreSQL re-archiving after a crash, a second archiver on the
    // prefix, or PostgreSQL's own call that has just pushed it): the record lets PostgreSQL's call for it end in
    // the launcher, as for an upload. One nobody uses goes once the file is done (pruneRecords).
    await writeUploadRecord(options.walDir, name, path, options.env, summary);
    if (outcome === "already-archived") {
      context.log.debug(`found ${name} ${summary}`);
      return true;
    }
    context.log.debug(`uploaded ${name} ahead (${summary})`);
    collectGarbage(storedBytes ?? 0);
    return true;
  } catch (error) {
    context.log.warn(`upload ahead of ${name} failed (PostgreSQL will push it itself): ${(error as Error).message}`);
    return false;
  } finally {
    await releaseClaim(options.walDir, name);
  }
}

/**
 * Each upload leaves buffers that V8 frees only when it collects (the object, LZ4's block outputs, brotli's
 * chunks): it counts them as external memory and collects late, so they piled up in the uploader
 * otherwise. A young-generation collection after each file frees what is still young; a full one (a few ms; gc()
 * is exposed by bin/wal-archive and the uploader's spawn) frees what the wait for the network made old, every 8
 * files, or sooner when their objects add up to 12 MiB (an index build's WAL compresses poorly, so a count alone
 * let memory grow).
 */
const FULL_GC_EVERY = 8;
const FULL_GC_AFTER_BYTES = 12 * 1024 * 1024;
let sinceFullGc = { files: 0, bytes: 0 };
function collectGarbage(storedBytes: number): void {
  const gc = (globalThis as { gc?: (options?: { type: string }) => void }).gc;
  if (!gc) return;
  sinceFullGc = { files: sinceFullGc.files + 1, bytes: sinceFullGc.bytes + storedBytes };
  // gc({ type: "major" }) frees no array buffers in Node 20; gc() does.
  if (sinceFullGc.files >= FULL_GC_EVERY || sinceFullGc.bytes >= FULL_GC_AFTER_BYTES) {
    sinceFullGc = { files: 0, bytes: 0 };
    gc();
  } else gc({ type: "minor" });
}

/** Ahead uploads report at debug level: the info line belongs to PostgreSQL's own call for the file. */
function infoAsDebug(log: Logger): Logger {
  return { ...log, info: log.debug };
}
