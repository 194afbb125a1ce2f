// LZMA-alone codec (walg-compat.md 2.3) through @napi-rs/lzma, which wraps lzma-rs.
import { lzma } from "@napi-rs/lzma";
import { CorruptDataError } from "../errors.js";
import type { Codec } from "./codec.js";
import { PacedTransform, asCorrupt } from "./codec-stream.js";

/**
 * lzma-rs writes exactly the header wal-g and `xz --format=lzma` write (5D, 8 MiB dictionary, unknown size) and
 * ends with the end-of-stream marker. Its encoder emits literals only, so output is larger than xz's (about
 * 1.8x on WAL-like data) but decodes everywhere.
 */
export const lzmaCodec: Codec = {
  name: "lzma",
  extension: "lzma",
  canCompress: true,
  compress: () => new WholeBuffer(compress),
  decompress: () => new WholeBuffer(decompress),
};

/** Output is handed on in slices so the reader can apply backpressure to the one big result. */
const SLICE_SIZE = 1024 * 1024;

/**
 * @napi-rs/lzma only converts whole buffers, so this holds the entire input and output in memory (up to twice a
 * 1 GiB segment). Accepted because lzma objects are rare; the work itself runs off the main thread.
 */
class WholeBuffer extends PacedTransform {
  private chunks: Buffer[] = [];

  constructor(private readonly convert: (input: Buffer) => Promise<Buffer>) {
    super();
  }

  protected consume(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  protected async finish(): Promise<void> {
    const input = Buffer.concat(this.chunks);
    this.chunks = [];
    const output = await this.convert(input);
    for (let offset = 0; offset < output.length; offset += SLICE_SIZE) {
      await this.send(output.subarray(offset, offset + SLICE_SIZE));
    }
  }
}

async function compress(input: Buffer): Promise<Buffer> {
  return lzma.compress(input);
}

async function decompress(input: Buffer): Promise<Buffer> {
  if (input.length === 0) throw new CorruptDataError("lzma object is empty");
  if (input.length < HEADER_SIZE) throw new CorruptDataError("lzma data is truncated");
  const sizeUnknown = input.subarray(5, HEADER_SIZE).equals(UNKNOWN_SIZE);
  const [output] = await Promise.all([decode(input), sizeUnknown ? requireEndMarker(input) : undefined]);
  return output;
}

const HEADER_SIZE = 13;
const UNKNOWN_SIZE = Buffer.alloc(8, 0xff);

async function decode(input: Buffer): Promise<Buffer> {
  try {
    return await lzma.decompress(input);
  } catch (error) {
    throw asCorrupt(error, "lzma");
  }
}

/**
 * lzma-rs also ends a stream of unknown size quietly when the input runs out at a point where the range coder
 * happens to be at zero, so some truncated objects decode without an error. A complete stream ends with the
 * end-of-stream marker, and lzma-rs refuses bytes after that marker: decoding once more with one extra byte
 * tells the two apart. This doubles the decoding work for a format that is rare.
 */
async function requireEndMarker(input: Buffer): Promise<void> {
  try {
    await lzma.decompress(Buffer.concat([input, Buffer.alloc(1)]));
  } catch (error) {
    if (error instanceof Error && /end-of-stream marker but more bytes/.test(error.message)) return;
    throw asCorrupt(error, "lzma");
  }
  throw new CorruptDataError("lzma data is truncated (no end-of-stream marker)");
}
