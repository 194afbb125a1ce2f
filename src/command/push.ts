// archive_command: push one WAL file (checks, local copy, compress, upload, confirm).
import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { PassThrough } from "node:stream";
import type { Config } from "../config.js";
import { ConflictError, CorruptDataError, LocalFileError, ExitCode, WalNativeError } from "../errors.js";
import { type Logger, formatBytes } from "../log.js";
import { loadCodec } from "../compress/codec.js";
import { type WalFileName, parseWalFileName } from "../wal/file-name.js";
import { LONG_HEADER_SIZE, checkSegmentHeader, readSegmentHeader } from "../wal/segment-check.js";
import { checkArchiveIdentity } from "../wal/identity.js";
import { candidateKeys, codecOfKey, walKey } from "../wal/archive-keys.js";
import { ObjectExistsError, type ObjectInfo, type Storage } from "../storage/storage.js";
import { LocalArchive } from "../cache/local-archive.js";
import { STATE_DIR } from "../cache/upload-records.js";
import { Inspector, sha256Of } from "../io/streams.js";
import { sameWalAsArchived } from "./same-wal.js";

/** Names of our object metadata (x-amz-meta-*): wal-g sets none, so their absence means "written by wal-g". */
export const META_SHA256 = "walnative-sha256";
export const META_SYSTEM_ID = "walnative-system-id";

/** The smallest segment size PostgreSQL allows; the header gives the real one. */
const MIN_SEGMENT_SIZE = 1024 * 1024;

export interface PushContext {
  readonly config: Config;
  readonly log: Logger;
  readonly storage: () => Promise<Storage>;
  /** Names a listing just found in no form in the archive (upload-ahead); the conditional write still guards them. */
  readonly knownAbsent?: ReadonlySet<string>;
}

export type PushOutcome = "pushed" | "already-archived";

export interface PushResult {
  readonly outcome: PushOutcome;
  /** "16.0 MiB -> 1.1 MiB lz4", for the log line. */
  readonly summary: string;
}

interface SourceFacts {
  readonly size: number;
  /** SHA-256 of the file, read on first use only (a duplicate to compare, a multipart upload). */
  readonly sha256: () => Promise<string>;
  readonly systemId?: bigint;
  readonly path: string;
  /** A segment's first LSN, from its header: the failover-duplicate rule parses its WAL records. */
  readonly startLsn?: bigint;
}

export async function pushWalFile(sourcePath: string, name: string, context: PushContext): Promise<PushResult> {
  const started = performance.now();
  const { config, log } = context;
  const file = parseWalFileName(name, MIN_SEGMENT_SIZE);
  const source = await inspectSource(sourcePath, file);
  const storage = await context.storage();
  // Remembered beside the WAL file when there is no local archive: pg_wal/.wal-native/.
  const identityCache = config.localArchiveDir ?? join(dirname(sourcePath), STATE_DIR);
  if (source.systemId !== undefined) await checkArchiveIdentity(storage, source.systemId, identityCache);

  const protect = config.preventWalOverwrite || file.kind === "history";
  if (protect && !context.knownAbsent?.has(name)) {
    const existing = await storage.statAll(candidateKeys(name).map((candidate) => candidate.key));
    if (existing[0]) return reportDuplicate(await sameContent(storage, name, existing[0], source), name, storage, log);
  }
  const codec = await loadCodec(config.compression);
  const key = walKey(name, codec.name);
  // The checksum is computed while the file streams through, unless a multipart upload needs its
  // metadata before the end of the body (objects larger than a part: rare for WAL).
  const hashing = new Inspector();
  const oneRequest = config.storage.kind === "file" || source.size * 1.01 + 1024 < config.storage.partSize;
  const early = oneRequest ? undefined : await source.sha256();
  const metadata = (): Record<string, string> => ({
    [META_SHA256]: early ?? hashing.digest(),
    ...(source.systemId === undefined ? {} : { [META_SYSTEM_ID]: source.systemId.toString() }),
  });
  const compressed = new PassThrough();
  const writing = storage.write(key, compressed, { metadata, ifAbsent: protect, sizeHint: source.size });
  let stored: ObjectInfo;
  try {
    [stored] = await Promise.all([
      writing,
      pipeline(createReadStream(sourcePath, { highWaterMark: 256 * 1024 }), hashing, codec.compress(), compressed),
    ]);
  } catch (caught) {
    compressed.destroy();
    // A store failing mid-stream (ENOSPC) also breaks the compressing pipeline, whose raw error can arrive
    // first and would exit 1 ("a bug"); the store's typed error says what happened (exit 75).
    const error = await writing.then(
      () => caught,
      (writeError: unknown) => (writeError instanceof WalNativeError || writeError instanceof ObjectExistsError ? writeError : caught),
    );
    if (!(error instanceof ObjectExistsError)) throw error;
    // Another push won the conditional write between our check and our upload.
    const info = await storage.stat(error.key);
    if (!info) throw error;
    return reportDuplicate(await sameContent(storage, name, info, source), name, storage, log);
  }
  // Only once storage holds these bytes: wal-restore reads the local copy first, so a copy of content
  // the archive refused (exit 65) would be restored in place of the archived one.
  await keepLocalCopy(sourcePath, name, config, log);
  const ms = Math.round(performance.now() - started);
  const summary = `${formatBytes(source.size)} -> ${formatBytes(stored.size)} ${codec.name}`;
  log.info(`pushed ${name} (${summary}, ${ms} ms)`);
  return { outcome: "pushed", summary };
}

/** Refuses what PostgreSQL would never archive: empty files, segments whose header disagrees with the name. */
async function inspectSource(sourcePath: string, file: WalFileName): Promise<SourceFacts> {
  const handle = await open(sourcePath, "r").catch((error: unknown) => {
    throw new LocalFileError(`cannot open '${sourcePath}' for ${file.name}: ${(error as Error).message}`, error, ExitCode.noInput);
  });
  let size: number;
  let systemId: bigint | undefined;
  let startLsn: bigint | undefined;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new LocalFileError(`'${sourcePath}' is not a regular file`, undefined, ExitCode.noInput);
    size = info.size;
    if (size === 0) throw new CorruptDataError(`'${sourcePath}' is empty; refusing to archive ${file.name}`);
    if (file.segment && (file.kind === "segment" || file.kind === "partial")) {
      const page = Buffer.alloc(LONG_HEADER_SIZE);
      const { bytesRead } = await handle.read(page, 0, LONG_HEADER_SIZE, 0);
      const header = readSegmentHeader(page.subarray(0, bytesRead), file.name);
      checkSegmentHeader(header, file.segment, size, file.name);
      systemId = header.systemIdentifier;
      if (file.kind === "segment") startLsn = header.pageAddress;
    }
  } finally {
    await handle.close();
  }
  let digest: Promise<string> | undefined;
  const sha256 = () => (digest ??= sha256Of(createReadStream(sourcePath, { highWaterMark: 256 * 1024 })).then((result) => result.sha256));
  return { size, sha256, systemId, path: sourcePath, startLsn };
}

async function keepLocalCopy(sourcePath: string, name: string, config: Config, log: Logger): Promise<void> {
  if (!config.localArchiveDir) return;
  try {
    await new LocalArchive(config.localArchiveDir).store(sourcePath, name);
  } catch (error) {
    // The archive in storage is what counts; a full local disk must not stop archiving.
    log.warn(`could not keep a local copy of ${name} in ${config.localArchiveDir}: ${(error as Error).message}`);
  }
}

/** Equal content: our checksum metadata when present, else a byte comparison (wal-g sets no metadata). */
/**
 * Equal content: our checksum metadata when present, else a byte comparison (wal-g sets no metadata). A segment
 * that differs only after the end of its valid WAL (the same segment from a primary and a promoted standby) is
 * "same-wal"; any difference inside the valid WAL stays a conflict.
 */
async function sameContent(storage: Storage, name: string, found: ObjectInfo, source: SourceFacts): Promise<boolean | "same-wal"> {
  const info = found.metadata ? found : ((await storage.stat(found.key)) ?? found);
  const recorded = info.metadata?.[META_SHA256];
  if (recorded === (await source.sha256())) return true;
  const codec = codecOfKey(name, found.key);
  if (!recorded) {
    const archived = new Inspector();
    await pipeline(await storage.read(found.key), (await loadCodec(codec)).decompress(), archived, new PassThrough().resume());
    if (archived.bytes === source.size && archived.digest() === (await source.sha256())) return true;
  }
  if (source.startLsn === undefined) return false;
  return (await sameWalAsArchived(storage, found.key, codec, { path: source.path, size: source.size, startLsn: source.startLsn })) && "same-wal";
}

function reportDuplicate(equal: boolean | "same-wal", name: string, storage: Storage, log: Logger): PushResult {
  if (!equal) {
    throw new ConflictError(
      `${name} is already archived in ${storage.label} with different content; not overwriting`,
      "PostgreSQL keeps the file and retries; check whether another cluster archives to this prefix",
    );
  }
  if (equal === "same-wal") {
    log.warn(`${name} is already archived in ${storage.label} with the same WAL (the copies differ only after its end, as after a failover); nothing to do`);
  } else log.warn(`${name} is already archived in ${storage.label} with equal content; nothing to do`);
  return { outcome: "already-archived", summary: "already archived" };
}
