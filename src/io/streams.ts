// Stream helpers: counting and hashing pass-throughs, and a whole-stream digest.
import { createHash, type Hash } from "node:crypto";
import { Transform, type Readable, type TransformCallback } from "node:stream";

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

  digest(): string {
    return this.hash.digest("hex");
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
