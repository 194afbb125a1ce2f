// Get one WAL file out of the archive and publish it verified: find the object, decompress, check
// header, size, checksum and system identifier, fsync, rename. Shared by wal-restore and the prefetcher.
import { createReadStream } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { Logger } from "../log.js";
import { pipeline } from "node:stream/promises";
import { CorruptDataError, LocalFileError, NotFoundError } from "../errors.js";
import { type CodecName, loadCodec } from "../compress/codec.js";
import { decodingStages, loadCrypter } from "../crypto/crypter.js";
import type { Encryption } from "../crypto/keys.js";
import { Output, decodeWhole } from "../compress/whole-decode.js";
import { DEFAULT_SEGMENT_SIZE, type WalFileName } from "../wal/file-name.js";
import { LONG_HEADER_SIZE, checkSegmentHeader, readSegmentHeader } from "../wal/segment-check.js";
import { candidateKeys, walKey } from "../wal/archive-keys.js";
import type { OpenedObject, Storage } from "../storage/storage.js";
import { isCode, syncDirectory } from "../io/fs.js";
import { Semaphore } from "../io/semaphore.js";
import { HashingTap, fileHandleSink } from "../io/streams.js";
import { type ContentDigest, digestLabel, digestOf, recordedDigest } from "../io/content-digest.js";

export interface Expectation {
  readonly file: WalFileName;
  /** From the cluster's pg_control, when known: a segment of another system is refused. */
  readonly systemId?: bigint;
  /** Recorded in the object's metadata when we archived it (wal-g records none). */
  readonly digest?: ContentDigest;
}

export interface PublishOptions {
  /**
   * fsync the file (and its directory) before and after the rename. Not for PostgreSQL's own
   * calls: it fsyncs what it keeps (durable_rename in KeepFileRestoredFromArchive) and asks again
   * after a crash; the prefetch worker's unsynced files are only served within the same boot.
   */
  readonly durable: boolean;
  readonly signal?: AbortSignal;
}

export interface DownloadOptions extends PublishOptions {
  /** The configured client-side encryption: every WAL object is decrypted before it is decompressed, as in wal-g. */
  readonly encryption?: Encryption;
}

/**
 * The configured method's key first (one GET in the usual case), then one listing of every
 * extension wal-g could have used, in wal-g's order. Absent everywhere: NotFoundError.
 */
export async function downloadVerified(
  storage: Storage,
  destination: string,
  expect: Expectation,
  preferred: CodecName,
  options: DownloadOptions,
): Promise<number> {
  const { signal, encryption } = options;
  const name = expect.file.name;
  let codec: CodecName = preferred;
  let object: OpenedObject;
  let key = walKey(name, preferred);
  try {
    object = await storage.open(key, signal);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    const candidates = candidateKeys(name);
    const [found] = await storage.statAll(candidates.map((candidate) => candidate.key), signal);
    if (!found) throw new NotFoundError(name, storage.label);
    codec = candidates.find((candidate) => candidate.key === found.key)?.codec ?? "none";
    key = found.key;
    object = await storage.open(key, signal);
  }
  const digest = recordedDigest(object.info.metadata);
  // An encrypted segment of the default size is a little larger than one (libsodium: 17 bytes per 8 KiB).
  const wholeLimit = encryption ? WHOLE_LIMIT + ENCRYPTION_ALLOWANCE : WHOLE_LIMIT;
  const held = object.info.size <= wholeLimit ? object.info.size : 0;
  bodyBytes += held;
  try {
    const input = await collect(object.body, object.info.size, wholeLimit);
    if (input.whole) {
      const output = await decodeSlots.acquire();
      try {
        // Decrypted inside the slot: the plaintext copy counts among the two objects decoded at a time.
        const plain = encryption ? await (await loadCrypter(encryption)).decrypt(input.whole, key) : input.whole;
        const content = await decodeWhole(await loadCodec(codec), plain, output);
        if (content) return await publishVerified(content, destination, { ...expect, digest }, options);
      } finally {
        decodeSlots.release(output);
      }
    }
    // Larger than a segment of the default size: streamed, so memory stays bounded.
    return await writeVerified(input.stream(), destination, { ...expect, digest }, await decodingStages(codec, encryption, key), options);
  } finally {
    bodyBytes -= held;
  }
}

let bodyBytes = 0;
let lastBodyBytes = 0;
/**
 * Compressed bytes of objects being downloaded whole or waiting for a decode buffer in this process, and the
 * size of the last one downloaded whole (what the next is likely to weigh).
 */
export function bodiesInMemory(): { held: number; last: number } {
  return { held: bodyBytes, last: lastBodyBytes };
}

/** Decoded whole up to this size (a default segment); anything larger is streamed. */
const WHOLE_LIMIT = DEFAULT_SEGMENT_SIZE;
/** What encryption may add to an object of WHOLE_LIMIT bytes: libsodium 0.2 %, OpenPGP a few hundred bytes. */
const ENCRYPTION_ALLOWANCE = WHOLE_LIMIT / 256;

/**
 * Two files are decoded whole at a time, each into a buffer kept for the next one: with one, the worker fell
 * behind replay on two busy cores; the price is a second 16 MiB buffer.
 */
class DecodeSlots {
  private readonly free: Buffer[] = [];
  private readonly slots: Semaphore;

  constructor(count: number) {
    this.slots = new Semaphore(count);
  }

  async acquire(): Promise<Output> {
    await this.slots.acquire();
    return new Output(this.free.pop(), WHOLE_LIMIT);
  }

  release(output: Output): void {
    // The buffer it grew into, if the file was small enough for the limit: reused as is.
    if (output.buffer.length === WHOLE_LIMIT) this.free.push(output.buffer);
    this.slots.release();
  }
}

const decodeSlots = new DecodeSlots(2);

interface Collected {
  /** The whole object, when it is no larger than WHOLE_LIMIT. */
  readonly whole?: Buffer;
  /** Otherwise the object as a stream again: what was read, then the rest. */
  stream(): Readable;
}

/** Reads an object into memory unless it turns out larger than `limit`. */
async function collect(body: Readable, sizeHint: number, limit: number): Promise<Collected> {
  if (sizeHint > limit) return { stream: () => body };
  // Copied as it arrives into one buffer of the announced size: each chunk dies young, where a list of chunks
  // joined at the end held the object twice. A body longer than announced goes on in a list.
  const whole = Buffer.allocUnsafe(sizeHint);
  const beyond: Buffer[] = [];
  let bytes = 0;
  const iterator = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      const chunk = next.value;
      const fits = Math.max(0, Math.min(chunk.length, whole.length - bytes));
      if (fits > 0) chunk.copy(whole, bytes, 0, fits);
      if (fits < chunk.length) beyond.push(chunk.subarray(fits));
      bytes += chunk.length;
      if (bytes > limit) {
        const rest = { [Symbol.asyncIterator]: () => iterator };
        return { stream: () => Readable.from((async function* () { yield whole; yield* beyond; yield* rest; })(), { objectMode: false }) };
      }
    }
  } catch (error) {
    body.destroy();
    throw error;
  }
  const complete = beyond.length === 0 ? whole.subarray(0, bytes) : Buffer.concat([whole, ...beyond], bytes);
  lastBodyBytes = complete.length;
  return { whole: complete, stream: () => Readable.from([complete]) };
}

/**
 * Checks a whole decoded file and publishes it like writeVerified: temporary file beside the
 * destination, one write, rename. Nothing is created under the final name unless it verified.
 */
export async function publishVerified(content: Buffer, destination: string, expect: Expectation, options: PublishOptions): Promise<number> {
  verify(
    {
      bytes: content.length,
      digest: () => digestOf(content, expect.digest?.algorithm).hex,
      firstBytes: () => content.subarray(0, LONG_HEADER_SIZE),
    },
    expect,
  );
  return publishThrough(destination, expect, options, async (handle) => {
    for (let offset = 0; offset < content.length; ) {
      offset += (await handle.write(content, offset, content.length - offset)).bytesWritten;
    }
    return content.length;
  });
}

/**
 * The publication protocol of both writers: a temporary file beside the destination, filled (and checked)
 * by `fill`, fsynced when durable, renamed into place. On any failure the temporary file is removed and the
 * destination is never created.
 */
async function publishThrough(
  destination: string, expect: Expectation, options: PublishOptions, fill: (handle: FileHandle) => Promise<number>,
): Promise<number> {
  const temp = tempPathFor(destination);
  try {
    const handle = await open(temp, "wx", 0o600).catch((error: unknown) => {
      throw new LocalFileError(`cannot create '${temp}': ${(error as Error).message}`, error);
    });
    let bytes: number;
    try {
      bytes = await fill(handle);
      if (options.durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, destination);
    if (options.durable) await syncDirectory(dirname(destination)).catch(() => undefined);
    return bytes;
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw asLocalFileError(error, expect, destination);
  }
}

function tempPathFor(destination: string): string {
  return join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString("hex")}.tmp`);
}

function asLocalFileError(error: unknown, expect: Expectation, destination: string): unknown {
  if (isCode(error, "ENOSPC") || isCode(error, "EDQUOT")) {
    return new LocalFileError(`no space left to restore ${expect.file.name} to '${destination}'`, error);
  }
  return error;
}

/** Streams into a temporary file beside the destination, checks it and publishes it (publishThrough). */
export async function writeVerified(
  input: Readable,
  destination: string,
  expect: Expectation,
  stages: NodeJS.ReadWriteStream[],
  options: PublishOptions,
): Promise<number> {
  const inspector = new HashingTap(LONG_HEADER_SIZE, expect.digest?.algorithm);
  try {
    return await publishThrough(destination, expect, options, async (handle) => {
      await pipeline([input, ...stages, inspector, fileHandleSink(handle)]);
      verify(inspector, expect);
      return inspector.bytes;
    });
  } catch (error) {
    input.destroy();
    throw error;
  }
}

interface Inspected {
  readonly bytes: number;
  digest(): string;
  firstBytes(): Buffer;
}

function verify(inspector: Inspected, expect: Expectation): void {
  const { file } = expect;
  const label = file.name;
  if (inspector.bytes === 0) throw new CorruptDataError(`${label} is empty in the archive`);
  if (expect.digest && inspector.digest() !== expect.digest.hex) {
    throw new CorruptDataError(`${label}: content does not match the checksum (${digestLabel(expect.digest.algorithm)}) recorded when it was archived`);
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

/** A copy from the local fast-recovery archive, verified like a download; undefined when absent or damaged. */
export async function fromLocalArchive(
  dir: string,
  destination: string,
  expect: Expectation,
  log: Pick<Logger, "warn">,
  options: PublishOptions,
): Promise<number | undefined> {
  let input: Readable;
  try {
    input = createReadStream("", { fd: await open(join(dir, expect.file.name), "r"), highWaterMark: 1024 * 1024 });
  } catch {
    return undefined;
  }
  try {
    return await writeVerified(input, destination, expect, [], options);
  } catch (error) {
    // A damaged local copy is not fatal: storage holds the authoritative one.
    log.warn(`ignoring the local copy of ${expect.file.name}: ${(error as Error).message}`);
    return undefined;
  }
}
