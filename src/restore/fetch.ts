// restore_command: a prefetched segment, else the local archive, else storage (retried within a
// bounded time); then the prefetch worker is told where replay is.
import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Config } from "../config.js";
import { CorruptDataError, NotFoundError, isTransient } from "../errors.js";
import { formatBytes } from "../format.js";
import type { Logger } from "../log.js";
import { MIN_SEGMENT_SIZE, WalSegment, parseWalFileName } from "../wal/file-name.js";
import { readClusterSystemId } from "../wal/system-id.js";
import type { Storage } from "../storage/storage.js";
import { withRetry } from "../io/retry.js";
import { clearStorageFailure, failurePolicy, lastStorageFailure, noteStorageFailure, recoveryKindAt } from "./on-error.js";
import { downloadVerified, fromLocalArchive } from "./download.js";
import type { Expectation } from "./publish.js";
import { takePrefetched } from "./prefetch/handoff.js";
import { notePrefetchPosition, startPrefetchWorker, stopEarlyWorker } from "./prefetch/worker.js";

export interface FetchContext {
  readonly config: Config;
  readonly log: Logger;
  readonly storage: () => Promise<Storage>;
  /** The cluster's data directory (PostgreSQL runs restore_command there); its pg_control names the system. */
  readonly dataDir?: string;
}

export type FetchSource = "prefetch" | "local archive" | "storage";

/**
 * Points a just-started worker at what comes next, so that it downloads while this call still runs: after
 * the requested segment, or, for the history probes that open a recovery from a base backup, from the
 * start segment that backup_label names (PostgreSQL asks for it right after those probes).
 */
async function seedPrefetch(walDir: string, segment: string | undefined, context: FetchContext): Promise<void> {
  const { config } = context;
  if (segment) return notePrefetchPosition(walDir, segment, config.segmentSize, config);
  const label = await readFile(join(context.dataDir ?? ".", "backup_label"), "utf8");
  const start = /^START WAL LOCATION: .* \(file ([0-9A-F]{24})\)$/m.exec(label)?.[1];
  if (!start) return;
  const first = WalSegment.parse(start, config.segmentSize);
  const position = first.segmentNumber(config.segmentSize);
  if (position === 0n) return;
  const before = WalSegment.fromSegmentNumber(first.timeline, position - 1n, config.segmentSize).toString();
  return notePrefetchPosition(walDir, before, config.segmentSize, config);
}

export async function fetchWalFile(name: string, destination: string, context: FetchContext): Promise<FetchSource> {
  const started = performance.now();
  const { config, log } = context;
  // The grammar of the smallest segment size: the header tells the real one.
  const file = parseWalFileName(name, MIN_SEGMENT_SIZE);
  const walDir = dirname(destination);
  const elapsed = () => `${Math.round(performance.now() - started)} ms`;

  // Published by the worker only after full verification.
  // Prefetch only serves PostgreSQL's own calls (%p in pg_wal), not a manual restore to /tmp.
  const recovering = basename(resolve(walDir)) === "pg_wal";
  if (recovering && file.kind === "segment" && (await takePrefetched(walDir, name, destination))) {
    await notePrefetchPosition(walDir, name, config.segmentSize, config).catch(() => undefined);
    log.info(`restored ${name} from prefetch (${elapsed()})`);
    return "prefetch";
  }
  // A standby whose store failed a moment ago tries it once (on-error.ts), and starts no worker meanwhile.
  const kind = recoveryKindAt(context.dataDir ?? ".");
  const lastFailure = recovering && kind === "standby" ? await lastStorageFailure(walDir) : undefined;
  const policy = failurePolicy(kind, config, lastFailure);
  // The first call of a recovery (a history probe or a segment) starts the worker while it fetches.
  const startWorker = recovering && file.kind !== "backup" && policy.retryMs > 0;
  const early = startWorker ? await startPrefetchWorker(walDir, config).catch(() => undefined) : undefined;
  if (early) await seedPrefetch(walDir, file.kind === "segment" ? name : undefined, context).catch(() => undefined);
  const expect: Expectation = { file, systemId: await readClusterSystemId(context.dataDir ?? ".") };
  let source: FetchSource = "local archive";
  // PostgreSQL fsyncs the files it keeps and asks again after a crash: no fsync of ours for its calls.
  const publish = { durable: !recovering };
  let bytes = config.localArchiveDir ? await fromLocalArchive(config.localArchiveDir, destination, expect, log, publish) : undefined;
  if (bytes === undefined) {
    source = "storage";
    try {
      const storage = await context.storage();
      bytes = await withRetry(() => downloadVerified(storage, destination, expect, config.compression, { ...publish, encryption: config.encryption }), {
        deadlineMs: policy.retryMs,
        // A body cut short can decode as corrupt; one fresh download tells a bad transfer from a bad object.
        retryable: (error, attempt) => isTransient(error) || (error instanceof CorruptDataError && attempt < 2),
        onRetry: (error, attempt, delay) =>
          log.warn(`attempt ${attempt} for ${name} failed, retrying in ${Math.round(delay)} ms: ${(error as Error).message}`),
      });
    } catch (error) {
      // "Not in the archive" is routine (history probes); for anything else PostgreSQL stops or goes on (on-error.ts)
      // without this call's worker.
      if (!(error instanceof NotFoundError)) {
        if (early) await stopEarlyWorker(early);
        if (recovering && policy.kind === "standby") await noteStorageFailure(walDir).catch(() => undefined);
      } else if (lastFailure !== undefined) {
        await clearStorageFailure(walDir); // storage answered
      }
      throw error;
    }
    if (lastFailure !== undefined) await clearStorageFailure(walDir);
  }
  log.info(`restored ${name} from ${source === "storage" ? (await context.storage()).label : "the local archive"} (${formatBytes(bytes)}, ${elapsed()})`);
  if (recovering && file.kind === "segment") {
    await notePrefetchPosition(walDir, name, bytes, config).catch((error: unknown) => log.debug(`prefetch not started: ${String(error)}`));
  }
  return source;
}
