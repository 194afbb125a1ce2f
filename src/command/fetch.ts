// restore_command: local archive first, else download + decompress + verify, then publish to %p by rename.
import { createReadStream } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Config } from "../config.js";
import { CorruptDataError, LocalFileError, NotFoundError, TransientStorageError, isTransient } from "../errors.js";
import { type Logger, formatBytes } from "../log.js";
import { loadCodec } from "../compress/codec.js";
import { type WalFileName, parseWalFileName } from "../wal/file-name.js";
import { LONG_HEADER_SIZE, checkSegmentHeader, readSegmentHeader } from "../wal/segment-check.js";
import { readClusterSystemId } from "../wal/identity.js";
import { candidateKeys } from "../wal/archive-keys.js";
import type { Storage } from "../storage/storage.js";
import { syncDirectory } from "../storage/fs.js";
import { Inspector, fileHandleSink } from "../io/streams.js";
import { withRetry } from "../io/retry.js";
import { META_SHA256 } from "./push.js";

export interface FetchContext {
  readonly config: Config;
  readonly log: Logger;
  readonly storage: () => Promise<Storage>;
  /** The cluster's data directory (PostgreSQL runs restore_command there); its pg_control names the system. */
  readonly dataDir?: string;
}

export type FetchSource = "local archive" | "storage";

interface Expectation {
  readonly file: WalFileName;
  readonly systemId?: bigint;
  readonly sha256?: string;
}

export async function fetchWalFile(name: string, destination: string, context: FetchContext): Promise<FetchSource> {
  const started = performance.now();
  const { config, log } = context;
  const file = parseWalFileName(name, config.segmentSize);
  const systemId = await readClusterSystemId(context.dataDir ?? ".");
  const expect: Expectation = { file, systemId };

  if (config.localArchiveDir && (await fromLocalArchive(config.localArchiveDir, destination, expect, log))) {
    log.info(`restored ${name} from the local archive (${Math.round(performance.now() - started)} ms)`);
    return "local archive";
  }
  const storage = await context.storage();
  const bytes = await withRetry(() => fromStorage(storage, destination, expect), {
    deadlineMs: config.restoreRetryMs,
    // A body cut short can decode as corrupt; one fresh download tells a bad transfer from a bad object.
    retryable: (error, attempt) => isTransient(error) || (error instanceof CorruptDataError && attempt < 2),
    onRetry: (error, attempt, delay) =>
      log.warn(`attempt ${attempt} for ${name} failed, retrying in ${Math.round(delay)} ms: ${(error as Error).message}`),
  });
  log.info(`restored ${name} from ${storage.label} (${formatBytes(bytes)}, ${Math.round(performance.now() - started)} ms)`);
  return "storage";
}

async function fromLocalArchive(dir: string, destination: string, expect: Expectation, log: Logger): Promise<boolean> {
  const path = join(dir, expect.file.name);
  let input: Readable;
  try {
    const handle = await open(path, "r");
    input = createReadStream("", { fd: handle, highWaterMark: 1024 * 1024 });
  } catch {
    return false;
  }
  try {
    await writeVerified(input, destination, expect);
    return true;
  } catch (error) {
    // A damaged local copy is not fatal: storage holds the authoritative one.
    log.warn(`ignoring the local copy of ${expect.file.name}: ${(error as Error).message}`);
    return false;
  }
}

async function fromStorage(storage: Storage, destination: string, expect: Expectation): Promise<number> {
  const name = expect.file.name;
  const candidates = candidateKeys(name);
  const found = await storage.statAll(candidates.map((candidate) => candidate.key));
  const first = found[0];
  if (!first) throw new NotFoundError(name, storage.label);
  const codec = await loadCodec(candidates.find((candidate) => candidate.key === first.key)?.codec ?? "none");
  const info = await storage.stat(first.key);
  // Listed a moment ago but gone now: a concurrent delete or an inconsistent listing, not "absent".
  if (!info) throw new TransientStorageError(`${first.key} vanished from ${storage.label} while being fetched`);
  const body = await storage.read(first.key);
  return writeVerified(body, destination, { ...expect, sha256: info.metadata?.[META_SHA256] }, [codec.decompress()]);
}

/**
 * Streams into a temporary file beside the destination, checks header, size and checksum, fsyncs
 * and renames. On any failure the temporary file is removed and the destination is never created.
 */
async function writeVerified(
  input: Readable,
  destination: string,
  expect: Expectation,
  stages: NodeJS.ReadWriteStream[] = [],
): Promise<number> {
  const temp = join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString("hex")}.tmp`);
  const inspector = new Inspector(LONG_HEADER_SIZE);
  try {
    const handle = await open(temp, "wx", 0o600).catch((error: unknown) => {
      throw new LocalFileError(`cannot create '${temp}': ${(error as Error).message}`, error);
    });
    try {
      await pipeline([input, ...stages, inspector, fileHandleSink(handle)]);
      verify(inspector, expect);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, destination);
    await syncDirectory(dirname(destination)).catch(() => undefined);
    return inspector.bytes;
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    if (isCode(error, "ENOSPC") || isCode(error, "EDQUOT")) {
      throw new LocalFileError(`no space left to restore ${expect.file.name} to '${destination}'`, error);
    }
    throw error;
  }
}

function verify(inspector: Inspector, expect: Expectation): void {
  const { file } = expect;
  const label = file.name;
  if (inspector.bytes === 0) throw new CorruptDataError(`${label} is empty in the archive`);
  if (expect.sha256 && inspector.digest() !== expect.sha256) {
    throw new CorruptDataError(`${label}: content does not match the SHA-256 recorded when it was archived`);
  }
  if (!file.segment || (file.kind !== "segment" && file.kind !== "partial")) return;
  const header = readSegmentHeader(inspector.firstBytes(), label);
  checkSegmentHeader(header, file.segment, inspector.bytes, label);
  if (expect.systemId !== undefined && header.systemIdentifier !== expect.systemId) {
    throw new CorruptDataError(
      `${label} belongs to database system ${header.systemIdentifier}, not to this cluster (${expect.systemId})`,
      { hint: "the archive prefix holds another cluster's WAL; check WALG_S3_PREFIX / WALG_FILE_PREFIX" },
    );
  }
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}
