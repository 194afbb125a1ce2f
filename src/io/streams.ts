// Stream helpers: counting and hashing pass-throughs, and a whole-stream digest.
import type { FileHandle } from "node:fs/promises";
import { Transform, Writable, type Readable, type TransformCallback } from "node:stream";
import { type DigestAlgorithm, type DigestStream, RECORDED_ALGORITHM, startDigest } from "./content-digest.js";
import { writeInSlices } from "./fs.js";

/** Counts and hashes what flows through, and keeps the first `keep` bytes for header checks. */
export class HashingTap extends Transform {
  bytes = 0;
  private readonly hash: DigestStream;
  private head: Buffer[] = [];
  private headBytes = 0;

  constructor(private readonly keep = 0, algorithm: DigestAlgorithm = RECORDED_ALGORITHM) {
    super({ highWaterMark: 1024 * 1024 });
    this.hash = startDigest(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    if (this.headBytes < this.keep) {
      this.head.push(chunk.subarray(0, this.keep - this.headBytes));
      this.headBytes += Math.min(chunk.length, this.keep - this.headBytes);
    }
    done(null, chunk);
  }

  firstBytes(): Buffer {
    return Buffer.concat(this.head);
  }

  private hex: string | undefined;

  /** The hex checksum of everything that passed through; call it after the stream ended. */
  digest(): string {
    this.hex ??= this.hash.hex();
    return this.hex;
  }
}

export async function digestOfStream(stream: Readable, algorithm: DigestAlgorithm): Promise<string> {
  const hash = startDigest(algorithm);
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.hex();
}

/**
 * A sink that writes into a FileHandle it does not own. fs.createWriteStream({ fd, autoClose: false }) still
 * closes the descriptor when a failed pipeline destroys it (Node lib/internal/fs/streams.js _destroy), so the
 * caller's later close() then fails with EBADF, hiding the real error (or closes a reused descriptor).
 */
export function fileHandleSink(handle: FileHandle): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, done) {
      writeInSlices(handle, chunk).then(() => done(), done);
    },
  });
}
