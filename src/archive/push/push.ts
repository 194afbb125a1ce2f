// archive_command: push one WAL file. The recipe: check the file against its name, ask storage whether the
// name is archived and by which cluster while the file is compressed (and encrypted), write it conditionally,
// keep a local copy once storage holds it.
import { dirname, join } from "node:path";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { PassThrough } from "node:stream";
import type { Config } from "../../config.js";
import { WalNativeError } from "../../errors.js";
import { formatBytes } from "../../format.js";
import type { Logger } from "../../log.js";
import { type Codec, loadCodec } from "../../compress/codec.js";
import { type Crypter, loadCrypter } from "../../crypto/crypter.js";
import { MIN_SEGMENT_SIZE, parseWalFileName } from "../../wal/file-name.js";
import { checkArchiveIdentity } from "../identity.js";
import { walKey } from "../../wal/archive-keys.js";
import { ObjectExistsError, type ObjectInfo, type Storage } from "../../storage/storage.js";
import { LocalArchive } from "../../local-archive/store.js";
import { STATE_DIR } from "../../fastpath/protocol.js";
import { HashingTap } from "../../io/streams.js";
import { type ContentDigest, RECORDED_ALGORITHM, digestMetadata, digestOf } from "../../io/content-digest.js";
import { Semaphore } from "../../io/semaphore.js";
import { findArchived, reportDuplicate, sameContent } from "./duplicate.js";
import { type SourceFacts, inspectSource, readWhole, releaseBuffer } from "./source.js";

/**
 * Names of our object metadata (x-amz-meta-*): wal-g sets none, so their absence means "written by wal-g".
 * The content checksum's names are in io/content-digest.ts.
 */
export const META_SYSTEM_ID = "walnative-system-id";

/** Files up to this size are archived from one buffer (packForUpload); 64 MiB covers common segment sizes. */
const WHOLE_FILE_LIMIT = 64 * 1024 * 1024;

export interface PushContext {
  readonly config: Config;
  readonly log: Logger;
  readonly storage: () => Promise<Storage>;
  /**
   * Whether a listing found the name in no form in the archive (upload-ahead; the listing may still be under
   * way). Such a file skips its own lookup; the conditional write still guards it.
   */
  readonly knownAbsent?: (name: string) => Promise<boolean>;
  /**
   * Whether a finished listing found the name archived (a re-archive after a crash, a second archiver on the
   * prefix). Such a file is compared with storage before it is compressed: an equal one needs no compressed copy.
   */
  readonly knownPresent?: (name: string) => boolean;
}

export type PushOutcome = "pushed" | "already-archived";

export interface PushResult {
  readonly outcome: PushOutcome;
  /** "16.0 MiB -> 1.1 MiB lz4", for the log line. */
  readonly summary: string;
  /** Bytes of the stored object (pushed only). */
  readonly storedBytes?: number;
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
      protect ? findArchived(storage, name, context.knownAbsent) : undefined,
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
    if (protect && context.knownPresent?.(name)) {
      const found = await checked();
      if (found) return reportDuplicate(await sameContent(storage, name, found, source, config), name, storage, log);
    }
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

async function keepLocalCopy(sourcePath: string, name: string, config: Config, log: Logger): Promise<void> {
  if (!config.localArchiveDir) return;
  try {
    await new LocalArchive(config.localArchiveDir).store(sourcePath, name);
  } catch (error) {
    // The archive in storage is what counts; a full local disk must not stop archiving.
    log.warn(`could not keep a local copy of ${name} in ${config.localArchiveDir}: ${(error as Error).message}`);
  }
}
