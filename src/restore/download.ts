// Get one WAL file out of the archive (or the local archive) and publish it verified (publish.ts): find the
// object, decrypt, decompress whole into a reused buffer or streamed when large. Shared by wal-restore and the
// prefetcher.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { Logger } from "../log.js";
import { NotFoundError } from "../errors.js";
import { type CodecName, loadCodec } from "../compress/codec.js";
import { decodingStages, loadCrypter } from "../crypto/crypter.js";
import type { Encryption } from "../crypto/keys.js";
import { Output, decodeWhole } from "../compress/whole-decode.js";
import { DEFAULT_SEGMENT_SIZE } from "../wal/file-name.js";
import { candidateKeys, walKey } from "../wal/archive-keys.js";
import type { OpenedObject, Storage } from "../storage/storage.js";
import { Semaphore } from "../io/semaphore.js";
import { recordedDigest } from "../io/content-digest.js";
import { type Expectation, type PublishOptions, publishVerified, writeVerified } from "./publish.js";

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
