// Zstandard codec: level 3 frames with a content checksum, like wal-g's klauspost default (walg-compat.md 2.4).
import { CompressStream } from "zstd-napi";
import binding from "zstd-napi/binding.js";
import { CorruptDataError } from "../errors.js";
import type { Codec } from "./codec.js";
import { PacedTransform, asCorrupt } from "./codec-stream.js";

export const zstdCodec: Codec = {
  name: "zstd",
  extension: "zst",
  canCompress: true,
  // CompressStream's output per write is at most about the size of that write, so memory follows the writer's chunks.
  compress: () => new CompressStream({ compressionLevel: 3, checksumFlag: true }),
  decompress: () => new ZstdDecompressor(),
};

const OUTPUT_SIZE = binding.dStreamOutSize();

/**
 * zstd-napi's DecompressStream pushes everything one input chunk expands to at once (a few KiB of an all-zero
 * segment is the whole segment), so this drives ZSTD_decompressStream itself and waits for the reader.
 * Concatenated frames decode one after another, as with klauspost's reader.
 */
class ZstdDecompressor extends PacedTransform {
  private readonly context = new binding.DCtx();
  private readonly output = Buffer.allocUnsafe(OUTPUT_SIZE);
  private inFrame = false;
  private sawInput = false;

  protected async consume(chunk: Buffer): Promise<void> {
    this.sawInput ||= chunk.length > 0;
    let input = chunk;
    for (;;) {
      const [toFlush, produced, consumed] = this.decompress(input);
      input = input.subarray(consumed);
      this.inFrame = toFlush !== 0;
      // Copy out: the output buffer is reused, and a small slice must not pin a large allocation in the queue.
      await this.send(Buffer.from(this.output.subarray(0, produced)));
      if (input.length === 0 && (produced < this.output.length || toFlush === 0)) return;
    }
  }

  protected finish(): void {
    if (!this.sawInput) throw new CorruptDataError("zstd object is empty");
    if (this.inFrame) throw new CorruptDataError("zstd data is truncated");
  }

  private decompress(input: Buffer): [number, number, number] {
    try {
      return this.context.decompressStream(this.output, input);
    } catch (error) {
      throw asCorrupt(error, "zstd");
    }
  }
}
