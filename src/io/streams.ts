// Stream helpers: counting and hashing pass-throughs, and a whole-stream digest.
import { createHash, type Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { Transform, Writable, type Readable, type TransformCallback } from "node:stream";

/** Counts and hashes what flows through, and keeps the first `keep` bytes for header checks. */
export class Inspector extends Transform {
  bytes = 0;
  readonly hash: Hash = createHash("sha256");
  private head: Buffer[] = [];
  private headBytes = 0;

  constructor(private readonly keep = 0) {
    super({ highWaterMark: 1024 * 1024 });
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

  /** The hex SHA-256 of everything that passed through; call it after the stream ended. */
  digest(): string {
    this.hex ??= this.hash.digest("hex");
    return this.hex;
  }
}

export async function sha256Of(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest("hex"), bytes };
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
      writeAll(handle, chunk).then(() => done(), done);
    },
  });
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}
