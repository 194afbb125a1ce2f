// archive_command: push one WAL file (checks, local copy, compress, upload, confirm).
import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { PassThrough } from "node:stream";
import type { Config } from "../../config.js";
import { ConflictError, CorruptDataError, LocalFileError, ExitCode, WalNativeError } from "../../errors.js";
import { type Logger, formatBytes } from "../../log.js";
import { type Codec, loadCodec } from "../../compress/codec.js";
import { type Crypter, decodingStages, loadCrypter } from "../../crypto/crypter.js";
import { type WalFileName, parseWalFileName } from "../../wal/file-name.js";
import { LONG_HEADER_SIZE, checkSegmentHeader, readSegmentHeader } from "../../wal/segment-check.js";
import { checkArchiveIdentity } from "../identity.js";
import { candidateKeys, codecOfKey, walKey } from "../../wal/archive-keys.js";
import { ObjectExistsError, type ObjectInfo, type Storage } from "../../storage/storage.js";
import { LocalArchive } from "../../local-archive/store.js";
import { STATE_DIR } from "../../fastpath/protocol.js";
import { HashingTap, digestOfStream } from "../../io/streams.js";
import { type ContentDigest, type DigestAlgorithm, RECORDED_ALGORITHM, digestMetadata, digestOf, recordedDigest } from "../../io/content-digest.js";
import { sameWalAsArchived } from "./same-wal.js";
import { Semaphore } from "../../io/semaphore.js";

/**
 * Names of our object metadata (x-amz-meta-*): wal-g sets none, so their absence means "written by wal-g".
 * The content checksum's names are in io/content-digest.ts.
 */
export const META_SYSTEM_ID = "walnative-system-id";

/** Files up to this size are archived from one buffer (packForUpload); 64 MiB covers common segment sizes. */
const WHOLE_FILE_LIMIT = 64 * 1024 * 1024;

/** The smallest segment size PostgreSQL allows; the header gives the real one. */
export const MIN_SEGMENT_SIZE = 1024 * 1024;

export interface PushContext {
  readonly config: Config;
  readonly log: Logger;
  readonly storage: () => Promise<Storage>;
  /**
   * Whether a listing found the name in no form in the archive (upload-ahead; the listing may still be under
   * way). Such a file skips its own lookup; the conditional write still guards it.
   */
  readonly knownAbsent?: (name: string) => Promise<boolean>;
}

export type PushOutcome = "pushed" | "already-archived";

export interface PushResult {
  readonly outcome: PushOutcome;
  /** "16.0 MiB -> 1.1 MiB lz4", for the log line. */
  readonly summary: string;
  /** Bytes of the stored object (pushed only). */
  readonly storedBytes?: number;
}

interface SourceFacts {
  readonly size: number;
  /** The file's checksum (hex), read on first use only (a duplicate to compare, a multipart upload). */
  readonly digest: (algorithm: DigestAlgorithm) => Promise<string>;
  /** Saves digest() a second read when the upload already hashed the file. */
  readonly knowDigest: (digest: ContentDigest) => void;
  readonly systemId?: bigint;
  readonly path: string;
  /** A segment's first LSN, from its header: the failover-duplicate rule parses its WAL records. */
  readonly startLsn?: bigint;
  /** The header page that was checked against the name (segments). */
  readonly head?: Buffer;
}

export async function pushWalFile(sourcePath: string, name: string, context: PushContext): Promise<PushResult> {
  const started = performance.now();
  const { config, log } = context;
  const file = parseWalFileName(name, MIN_SEGMENT_SIZE);
  const source = await inspectSource(sourcePath, file);
  const storage = await context.storage();
  // Remembered beside the WAL file when there is no local archive: pg_wal/.wal-native/.
  const identityCache = config.localArchiveDir ?? join(dirname(sourcePath), STATE_DIR);
  const protect = config.preventWalOverwrite || file.kind === "history";
  // The checks that ask storage run while the file is read and compressed; nothing is written before both
  // answered. At 20 ms from the store this hides a round trip per file.
  const checked = awaitLater(
    Promise.all([
      source.systemId === undefined ? undefined : checkArchiveIdentity(storage, source.systemId, identityCache),
      protect ? findArchived(storage, name, context) : undefined,
    ]).then(([, existing]) => existing),
  );
  const codec = await loadCodec(config.compression);
  // Encrypted after compression, under the compression's key, as wal-g does (internal/compress_and_encrypt.go).
  const crypter = config.encryption ? await loadCrypter(config.encryption) : undefined;
  const key = walKey(name, codec.name);
  let stored: ObjectInfo;
  /** When the whole object was ready to send: the rest of the time is the store's (and its checks'). */
  let packedAt: number | undefined;
  try {
    const whole = codec.compressWhole && source.size <= WHOLE_FILE_LIMIT ? await packForUpload(codec, crypter, source) : undefined;
    packedAt = whole ? performance.now() : undefined;
    const existing = await checked();
    if (existing) return reportDuplicate(await sameContent(storage, name, existing, source, config), name, storage, log);
    stored = whole
      ? await storage.write(key, whole.packed, { metadata: metadataOf(whole.digest, source, crypter), ifAbsent: protect, sizeHint: whole.packed.length })
      : await uploadStreaming(storage, key, codec, crypter, source, protect, config);
  } catch (error) {
    if (!(error instanceof ObjectExistsError)) throw error;
    // Another push won the conditional write between our check and our upload.
    const info = await storage.stat(error.key);
    if (!info) throw error;
    return reportDuplicate(await sameContent(storage, name, info, source, config), name, storage, log);
  }
  // Logged apart, so that a slow store is told from a busy CPU (the archiver waits for both).
  const storageMs = packedAt === undefined ? "" : `, storage ${Math.round(performance.now() - packedAt)} ms`;
  // Only once storage holds these bytes: wal-restore reads the local copy first, so a copy of content
  // the archive refused (exit 65) would be restored in place of the archived one.
  await keepLocalCopy(sourcePath, name, config, log);
  const ms = Math.round(performance.now() - started);
  const summary = `${formatBytes(source.size)} -> ${formatBytes(stored.size)} ${codec.name}${crypter ? `+${crypter.method}` : ""}`;
  log.info(`pushed ${name} (${summary}, ${ms} ms${storageMs})`);
  return { outcome: "pushed", summary, storedBytes: stored.size };
}

/** The archived object of this name under any extension wal-g reads, unless a listing already found none. */
async function findArchived(storage: Storage, name: string, context: PushContext): Promise<ObjectInfo | undefined> {
  if (await context.knownAbsent?.(name)) return undefined;
  const [existing] = await storage.statAll(candidateKeys(name).map((candidate) => candidate.key));
  return existing;
}

/** Awaits a promise later without leaving its rejection unhandled meanwhile (the caller may fail first). */
function awaitLater<T>(promise: Promise<T>): () => Promise<T> {
  const outcome = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return async () => {
    const result = await outcome;
    if (!result.ok) throw result.error;
    return result.value;
  };
}

/**
 * The whole file in memory (a WAL segment is at most 1 GiB, usually 16 MiB; this path takes up to 64 MiB),
 * compressed into one buffer for one PUT. Only the compressed bytes then wait for the network: more uploads
 * than segments in memory can be in flight.
 */
async function packForUpload(codec: Codec, crypter: Crypter | undefined, source: SourceFacts): Promise<{ packed: Buffer; digest: ContentDigest }> {
  const { packed, digest } = await packWhole(codec, crypter, source);
  // The codec's intermediate buffers are unreachable now and still young: a minor collection (the background
  // uploader exposes gc) frees them at once instead of after the upload, when they would be in the old generation.
  (globalThis as { gc?: (options: object) => void }).gc?.({ type: "minor" });
  source.knowDigest(digest);
  return { packed, digest };
}

async function packWhole(codec: Codec, crypter: Crypter | undefined, source: SourceFacts): Promise<{ packed: Buffer; digest: ContentDigest }> {
  const slots = codec.name === "lz4" ? compressingLz4 : compressing;
  await slots.acquire();
  try {
    const raw = await readWhole(source);
    try {
      // Brotli compresses on the thread pool while this thread hashes (0.7 ms); LZ4 runs on this thread.
      const packing = codec.compressWhole!(raw);
      const digest = digestOf(raw);
      const packed = await packing;
      return { packed: crypter ? await crypter.encrypt(packed) : packed, digest };
    } finally {
      releaseBuffer(raw);
    }
  } finally {
    slots.release();
  }
}

/**
 * Segments being read and compressed at once in this process, each with its 16 MiB and the codec's buffers.
 * LZ4 compresses a segment in ~5 ms on the main thread, so one at a time. Brotli compresses a segment on one
 * pool thread, so two run at once (2.8 s against 3.2-3.8 s with one, for 64 segments).
 */
const compressing = new Semaphore(2);
const compressingLz4 = new Semaphore(1);

/** Larger files stream through with bounded memory; the checksum is computed while they pass. */
async function uploadStreaming(
  storage: Storage, key: string, codec: Codec, crypter: Crypter | undefined, source: SourceFacts, protect: boolean, config: Config,
): Promise<ObjectInfo> {
  const hashing = new HashingTap();
  // A multipart upload needs its metadata before the end of the body (objects larger than a part).
  const oneRequest = config.storage.kind === "file" || source.size * 1.01 + 1024 < config.storage.partSize;
  const early = oneRequest || crypter ? undefined : await source.digest(RECORDED_ALGORITHM);
  const compressed = new PassThrough();
  const writing = storage.write(key, compressed, {
    metadata: () => metadataOf({ algorithm: RECORDED_ALGORITHM, hex: early ?? hashing.digest() }, source, crypter), ifAbsent: protect, sizeHint: source.size,
  });
  try {
    const [stored] = await Promise.all([
      writing,
      pipeline([createReadStream(source.path, { highWaterMark: 256 * 1024 }), hashing, codec.compress(), ...(crypter ? [crypter.encryptStream()] : []), compressed]),
    ]);
    return stored;
  } catch (caught) {
    compressed.destroy();
    // A store failing mid-stream (ENOSPC) also breaks the compressing pipeline, whose raw error can arrive
    // first and would exit 1 ("a bug"); the store's typed error says what happened (exit 75).
    throw await writing.then(
      () => caught,
      (writeError: unknown) => (writeError instanceof WalNativeError || writeError instanceof ObjectExistsError ? writeError : caught),
    );
  }
}

/**
 * No checksum of the content beside an encrypted object: it would tell whoever reads the bucket whether a guessed
 * file (a short .history) is the one archived, and the cipher's authentication already proves the content.
 */
function metadataOf(digest: ContentDigest, source: SourceFacts, crypter: Crypter | undefined): Record<string, string> {
  return { ...(crypter ? {} : digestMetadata(digest)), ...(source.systemId === undefined ? {} : { [META_SYSTEM_ID]: source.systemId.toString() }) };
}

/**
 * Segment buffers are reused across the uploads of one call: a fresh 16 MiB buffer per file is only freed
 * when V8 collects, and until then each counts in the process's resident memory.
 */
const spareBuffers: Buffer[] = [];
function takeBuffer(size: number): Buffer {
  const index = spareBuffers.findIndex((buffer) => buffer.length === size);
  return index >= 0 ? spareBuffers.splice(index, 1)[0]! : Buffer.allocUnsafeSlow(size);
}
function releaseBuffer(buffer: Buffer): void {
  if (spareBuffers.length < 4) spareBuffers.push(buffer);
}

/** Exactly size bytes: a file that changed size since inspectSource is not what was checked. */
async function readWhole(source: SourceFacts): Promise<Buffer> {
  const handle = await open(source.path, "r");
  try {
    const data = takeBuffer(source.size);
    let filled = 0;
    while (filled < data.length) {
      const { bytesRead } = await handle.read(data, filled, data.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const { size } = await handle.stat();
    // The bytes uploaded must be the ones whose header was checked: a file recycled by PostgreSQL in between
    // (possible only when archiving was switched off meanwhile) must not go out under this name.
    const sameHead = source.head === undefined || data.subarray(0, source.head.length).equals(source.head);
    if (filled !== source.size || size !== source.size || !sameHead) {
      releaseBuffer(data);
      throw new LocalFileError(`'${source.path}' changed while being archived (${source.size} -> ${size} bytes)`, undefined, ExitCode.tempFailure);
    }
    return data;
  } finally {
    await handle.close();
  }
}

/** Refuses what PostgreSQL would never archive: empty files, segments whose header disagrees with the name. */
async function inspectSource(sourcePath: string, file: WalFileName): Promise<SourceFacts> {
  const handle = await open(sourcePath, "r").catch((error: unknown) => {
    throw new LocalFileError(`cannot open '${sourcePath}' for ${file.name}: ${(error as Error).message}`, error, ExitCode.noInput);
  });
  let size: number;
  let systemId: bigint | undefined;
  let startLsn: bigint | undefined;
  let head: Buffer | undefined;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new LocalFileError(`'${sourcePath}' is not a regular file`, undefined, ExitCode.noInput);
    size = info.size;
    if (size === 0) throw new CorruptDataError(`'${sourcePath}' is empty; refusing to archive ${file.name}`);
    if (file.segment && (file.kind === "segment" || file.kind === "partial")) {
      const page = Buffer.alloc(LONG_HEADER_SIZE);
      const { bytesRead } = await handle.read(page, 0, LONG_HEADER_SIZE, 0);
      head = page.subarray(0, bytesRead);
      const header = readSegmentHeader(head, file.name);
      checkSegmentHeader(header, file.segment, size, file.name);
      systemId = header.systemIdentifier;
      if (file.kind === "segment") startLsn = header.pageAddress;
    }
  } finally {
    await handle.close();
  }
  const digests = new Map<DigestAlgorithm, Promise<string>>();
  const digest = (algorithm: DigestAlgorithm) => {
    let known = digests.get(algorithm);
    if (!known) {
      known = digestOfStream(createReadStream(sourcePath, { highWaterMark: 256 * 1024 }), algorithm);
      digests.set(algorithm, known);
    }
    return known;
  };
  const knowDigest = (known: ContentDigest) => {
    if (!digests.has(known.algorithm)) digests.set(known.algorithm, Promise.resolve(known.hex));
  };
  return { size, digest, knowDigest, systemId, path: sourcePath, startLsn, head };
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

/**
 * Equal content: our checksum metadata when present, else a byte comparison (wal-g sets no metadata). A segment
 * that differs only after the end of its valid WAL (the same segment from a primary and a promoted standby) is
 * "same-wal"; any difference inside the valid WAL stays a conflict.
 */
async function sameContent(
  storage: Storage, name: string, found: ObjectInfo, source: SourceFacts, config: Config,
): Promise<boolean | "same-wal"> {
  const info = found.metadata ? found : ((await storage.stat(found.key)) ?? found);
  const recorded = recordedDigest(info.metadata);
  if (recorded && recorded.hex === (await source.digest(recorded.algorithm))) return true;
  const codec = codecOfKey(name, found.key);
  if (!recorded) {
    // Decrypted with the configured key: an object it cannot decrypt fails here, saying why (exit 65).
    const archived = new HashingTap(0, RECORDED_ALGORITHM);
    await pipeline([await storage.read(found.key), ...(await decodingStages(codec, config.encryption, found.key)), archived, new PassThrough().resume()]);
    if (archived.bytes === source.size && archived.digest() === (await source.digest(RECORDED_ALGORITHM))) return true;
  }
  if (source.startLsn === undefined) return false;
  const local = { path: source.path, size: source.size, startLsn: source.startLsn };
  return (await sameWalAsArchived(storage, found.key, codec, local, config.encryption)) && "same-wal";
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
