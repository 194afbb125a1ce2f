// Whole-object decoding for restores: the compressed object is already in memory and the decoded
// file is small (a 16 MiB segment, a history file), so it is decoded into one buffer in one pass,
// without stream stages between the blocks. Same checks and messages as the stream decoders.
import { Readable } from "node:stream";
import { xxh32 } from "@node-rs/xxhash";
import { CorruptDataError } from "../errors.js";
import type { Codec } from "./codec.js";
import { END_MARK_SIZE, FRAME_MAGIC, LEGACY_MAGIC, decodeBlock, descriptorLength, isSkippableMagic, parseDescriptor } from "./lz4-frame.js";

/**
 * Growable output with a limit. Starts in `scratch` (a caller's reusable buffer, so a worker does
 * not fault in fresh pages for every segment); a file that would outgrow `limit` is not decoded
 * whole (the caller streams it instead, with bounded memory).
 */
export class Output {
  buffer: Buffer;
  length = 0;

  constructor(
    scratch: Buffer | undefined,
    readonly limit: number,
  ) {
    this.buffer = scratch ?? Buffer.allocUnsafe(0);
  }

  /** Room for `more` bytes after what is there; false beyond the limit. */
  reserve(more: number): boolean {
    const needed = this.length + more;
    if (needed <= this.buffer.length) return true;
    if (needed > this.limit) return false;
    const grown = Buffer.allocUnsafe(Math.min(this.limit, Math.max(needed, this.buffer.length * 2, 64 * 1024)));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
    return true;
  }

  append(chunk: Uint8Array): boolean {
    if (!this.reserve(chunk.length)) return false;
    this.buffer.set(chunk, this.length);
    this.length += chunk.length;
    return true;
  }

  view(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * Decodes a whole object of any codec; undefined when the decoded content would exceed the
 * output's limit. Corrupt or truncated input throws CorruptDataError, as the stream decoders do.
 */
export async function decodeWhole(codec: Codec, input: Buffer, output: Output): Promise<Buffer | undefined> {
  // Imported here, not at the top: the restore path must load without the lz4 codec's native module unless an
  // object needs it (codec.ts then reports a missing module plainly, before this runs).
  if (codec.name === "lz4") return decodeLz4Whole(input, output, (await import("./lz4-native.js")).decompressBlock);
  if (codec.name === "none") return output.append(input) ? output.view() : undefined;
  const stream = Readable.from([input]).pipe(codec.decompress());
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (!output.append(chunk)) return undefined;
    }
  } finally {
    stream.destroy();
  }
  return output.view();
}

/**
 * One LZ4 frame (wal-g writes exactly one), with skippable frames allowed before and after it:
 * block checksums, the content checksum and a declared content size are all checked. Linked
 * blocks decode in place, since the earlier output is right in front of them.
 */
export function decodeLz4Whole(input: Buffer, output: Output, decodeIndependent: (data: Buffer, target: Buffer) => number): Buffer | undefined {
  if (input.length === 0) throw new CorruptDataError("lz4 object is empty");
  let at = 0;
  let frameDone = false;
  const need = (count: number): void => {
    if (input.length - at < count) throw new CorruptDataError("lz4 data is truncated");
  };
  while (at < input.length) {
    need(4);
    const magic = input.readUInt32LE(at);
    at += 4;
    if (isSkippableMagic(magic)) {
      need(4);
      const size = input.readUInt32LE(at);
      at += 4;
      need(size);
      at += size;
      continue;
    }
    if (frameDone) throw new CorruptDataError("unexpected data after the lz4 frame (wal-g writes one frame)");
    if (magic === LEGACY_MAGIC) throw new CorruptDataError("legacy lz4 format is not supported");
    if (magic !== FRAME_MAGIC) throw new CorruptDataError(`not an lz4 frame (magic 0x${magic.toString(16).padStart(8, "0")})`);
    need(1);
    const descriptorBytes = descriptorLength(input[at]!);
    need(descriptorBytes);
    const frame = parseDescriptor(input.subarray(at, at + descriptorBytes));
    at += descriptorBytes;
    const start = output.length;
    for (;;) {
      need(END_MARK_SIZE);
      const field = input.readUInt32LE(at);
      at += 4;
      if (field === 0) break;
      const stored = field >>> 31 === 1;
      const length = field & 0x7fffffff;
      if (length > frame.maxBlockSize) {
        throw new CorruptDataError(`lz4 block of ${length} bytes exceeds the frame's maximum block size`);
      }
      need(length + (frame.blockChecksum ? 4 : 0));
      const data = input.subarray(at, at + length);
      at += length;
      if (frame.blockChecksum) {
        if (input.readUInt32LE(at) !== xxh32(data, 0) >>> 0) throw new CorruptDataError("lz4 block checksum mismatch");
        at += 4;
      }
      if (stored) {
        if (!output.append(data)) return undefined;
        continue;
      }
      if (!output.reserve(frame.maxBlockSize) && !output.reserve(Math.min(frame.maxBlockSize, output.limit - output.length))) {
        return undefined;
      }
      const blockStart = output.length;
      const room = Math.min(output.buffer.length, output.limit);
      let end: number;
      try {
        // Independent blocks (what wal-g and wal-native write) go to the C decoder; linked ones need the window.
        end = frame.independentBlocks
          ? blockStart + decodeIndependent(data, output.buffer.subarray(blockStart, Math.min(room, blockStart + frame.maxBlockSize)))
          : decodeBlock(data, output.buffer.subarray(0, room), blockStart, start);
      } catch (error) {
        // A valid block that merely outgrows the limit looks like overflow; only a full buffer can mean that.
        if (blockStart + frame.maxBlockSize > output.limit) return undefined;
        throw error;
      }
      output.length = end;
    }
    const content = output.buffer.subarray(start, output.length);
    if (frame.contentChecksum) {
      need(4);
      if (input.readUInt32LE(at) !== xxh32(content, 0) >>> 0) throw new CorruptDataError("lz4 content checksum mismatch");
      at += 4;
    }
    if (frame.contentSize !== undefined && frame.contentSize !== BigInt(content.length)) {
      throw new CorruptDataError(`lz4 frame declares ${frame.contentSize} bytes but holds ${content.length}`);
    }
    frameDone = true;
  }
  if (!frameDone) throw new CorruptDataError("lz4 data is truncated");
  return output.view();
}
