// LZ4 codec: writes exactly the single frame wal-g writes (walg-compat.md 2.2) and reads what wal-g's reader accepts.
import { Xxh32, xxh32 } from "@node-rs/xxhash";
import { CorruptDataError } from "../errors.js";
import type { Codec } from "./codec.js";
import {
  ByteQueue,
  END_MARK_SIZE,
  FRAME_MAGIC,
  LEGACY_MAGIC,
  WINDOW_SIZE,
  WRITER_BLOCK_SIZE,
  WRITER_HEADER,
  blockSizeField,
  decodeBlock,
  descriptorLength,
  isSkippableMagic,
  parseDescriptor,
} from "./lz4-frame.js";
import type { FrameDescriptor } from "./lz4-frame.js";
import { PacedTransform } from "./codec-stream.js";
import { compressBlock } from "./lz4-native.js";

export const lz4Codec: Codec = {
  name: "lz4",
  extension: "lz4",
  canCompress: true,
  compress: () => new Lz4Compressor(),
  compressWhole,
  decompress: () => new Lz4Decompressor(),
};

/** Holds at most one 4 MiB block of input (reused unless it was handed on stored); the checksum is computed as data passes. */
class Lz4Compressor extends PacedTransform {
  private block: Buffer | undefined;
  private filled = 0;
  private readonly checksum = new Xxh32(0);

  constructor() {
    super();
    this.push(Buffer.from(WRITER_HEADER));
  }

  protected async consume(chunk: Buffer): Promise<void> {
    this.checksum.update(chunk);
    for (let offset = 0; offset < chunk.length; ) {
      this.block ??= Buffer.allocUnsafe(WRITER_BLOCK_SIZE);
      const copied = chunk.copy(this.block, this.filled, offset);
      this.filled += copied;
      offset += copied;
      if (this.filled === WRITER_BLOCK_SIZE) await this.writeBlock();
    }
  }

  protected async finish(): Promise<void> {
    if (this.filled > 0) await this.writeBlock();
    const trailer = Buffer.alloc(END_MARK_SIZE + 4);
    trailer.writeUInt32LE(this.checksum.digest() >>> 0, END_MARK_SIZE);
    await this.send(trailer);
  }

  private async writeBlock(): Promise<void> {
    const data = (this.block ?? Buffer.alloc(0)).subarray(0, this.filled);
    this.filled = 0;
    const packed = compressBlock(data);
    if (packed) {
      await this.send(packed);
    } else {
      // The stored block now belongs to the reader; the next block needs a new buffer.
      this.block = undefined;
      await this.send(blockSizeField(data.length, true));
      await this.send(data);
    }
  }
}

/** The frame the streaming writer produces, from a whole buffer, compressed on the calling thread (~3 ms per 16 MiB segment). */
async function compressWhole(data: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [Buffer.from(WRITER_HEADER)];
  for (let offset = 0; offset < data.length; offset += WRITER_BLOCK_SIZE) {
    const block = data.subarray(offset, Math.min(offset + WRITER_BLOCK_SIZE, data.length));
    const packed = compressBlock(block);
    if (packed) parts.push(packed);
    else parts.push(blockSizeField(block.length, true), block);
  }
  const trailer = Buffer.alloc(END_MARK_SIZE + 4);
  trailer.writeUInt32LE(xxh32(data, 0) >>> 0, END_MARK_SIZE);
  parts.push(trailer);
  return Buffer.concat(parts);
}

type Stage = "magic" | "skipSize" | "skip" | "descriptor" | "blockSize" | "block" | "checksum";

/**
 * Streams one frame, holding at most one block of input and one of output (plus 64 KiB of history for linked
 * blocks). Skippable frames are skipped before and after the frame. Unlike wal-g, which ignores anything after
 * the first frame, any other trailing data is rejected: wal-g never writes it, and a second frame would decode
 * differently here and in the lz4 CLI.
 */
class Lz4Decompressor extends PacedTransform {
  private readonly input = new ByteQueue();
  private readonly checksum = new Xxh32(0);
  private stage: Stage = "magic";
  private frame: FrameDescriptor | undefined;
  private frameDone = false;
  private sawInput = false;
  private skipLeft = 0;
  private blockLength = 0;
  private blockStored = false;
  private contentLength = 0;
  private history: Buffer = Buffer.alloc(0);

  protected async consume(chunk: Buffer): Promise<void> {
    this.sawInput ||= chunk.length > 0;
    this.input.push(chunk);
    for (let result = this.step(); result !== false; result = this.step()) {
      if (result !== true) await this.send(result);
    }
  }

  protected finish(): void {
    if (!this.sawInput) throw new CorruptDataError("lz4 object is empty");
    if (!this.frameDone || this.stage !== "magic") throw new CorruptDataError("lz4 data is truncated");
    if (this.input.length > 0) throw new CorruptDataError("unexpected data after the lz4 frame");
  }

  /** One parsing step: false needs more input, true made progress, a Buffer is decoded output. */
  private step(): Buffer | boolean {
    switch (this.stage) {
      case "magic":
        return this.readMagic();
      case "skipSize":
        return this.readSkipSize();
      case "skip":
        return this.skip();
      case "descriptor":
        return this.readDescriptor();
      case "blockSize":
        return this.readBlockSize();
      case "block":
        return this.readBlock();
      case "checksum":
        return this.readContentChecksum();
    }
  }

  private readMagic(): boolean {
    if (this.input.length < 4) return false;
    const magic = this.input.take(4).readUInt32LE(0);
    if (isSkippableMagic(magic)) this.stage = "skipSize";
    else if (magic === FRAME_MAGIC && !this.frameDone) this.stage = "descriptor";
    else throw this.unexpectedMagic(magic);
    return true;
  }

  private unexpectedMagic(magic: number): CorruptDataError {
    if (this.frameDone) return new CorruptDataError("unexpected data after the lz4 frame (wal-g writes one frame)");
    if (magic === LEGACY_MAGIC) return new CorruptDataError("legacy lz4 format is not supported");
    return new CorruptDataError(`not an lz4 frame (magic 0x${magic.toString(16).padStart(8, "0")})`);
  }

  private readSkipSize(): boolean {
    if (this.input.length < 4) return false;
    this.skipLeft = this.input.take(4).readUInt32LE(0);
    this.stage = "skip";
    return true;
  }

  private skip(): boolean {
    this.skipLeft -= this.input.skip(this.skipLeft);
    if (this.skipLeft > 0) return false;
    this.stage = "magic";
    return true;
  }

  private readDescriptor(): boolean {
    if (this.input.length === 0) return false;
    const length = descriptorLength(this.input.peek());
    if (this.input.length < length) return false;
    this.frame = parseDescriptor(this.input.take(length));
    this.stage = "blockSize";
    return true;
  }

  private readBlockSize(): boolean {
    if (this.input.length < 4) return false;
    const field = this.input.take(4).readUInt32LE(0);
    if (field === 0) return this.endBlocks();
    this.blockStored = field >>> 31 === 1;
    this.blockLength = field & 0x7fffffff;
    if (this.blockLength > this.descriptor().maxBlockSize) {
      throw new CorruptDataError(`lz4 block of ${this.blockLength} bytes exceeds the frame's maximum block size`);
    }
    this.stage = "block";
    return true;
  }

  private readBlock(): Buffer | false {
    const frame = this.descriptor();
    if (this.input.length < this.blockLength + (frame.blockChecksum ? 4 : 0)) return false;
    const data = this.input.take(this.blockLength);
    if (frame.blockChecksum && this.input.take(4).readUInt32LE(0) !== xxh32(data, 0) >>> 0) {
      throw new CorruptDataError("lz4 block checksum mismatch");
    }
    const output = this.blockStored ? data : this.decode(data, frame);
    if (!frame.independentBlocks) this.history = lastWindow(this.history, output);
    this.checksum.update(output);
    this.contentLength += output.length;
    this.stage = "blockSize";
    return output;
  }

  /** Decodes into a fresh buffer because the output is handed to the reader; linked blocks get the history in front. */
  private decode(data: Buffer, frame: FrameDescriptor): Buffer {
    const prefix = frame.independentBlocks ? 0 : this.history.length;
    const target = Buffer.allocUnsafe(prefix + frame.maxBlockSize);
    if (prefix > 0) this.history.copy(target, 0);
    const end = decodeBlock(data, target, prefix, 0);
    const output = target.subarray(prefix, end);
    // A small block must not pin a 4 MiB allocation while it waits in the reader's queue.
    return output.length < target.length / 4 ? Buffer.from(output) : output;
  }

  private endBlocks(): boolean {
    if (this.descriptor().contentChecksum) this.stage = "checksum";
    else this.endFrame();
    return true;
  }

  private readContentChecksum(): boolean {
    if (this.input.length < 4) return false;
    if (this.input.take(4).readUInt32LE(0) !== this.checksum.digest() >>> 0) {
      throw new CorruptDataError("lz4 content checksum mismatch");
    }
    this.endFrame();
    return true;
  }

  private endFrame(): void {
    const declared = this.descriptor().contentSize;
    if (declared !== undefined && declared !== BigInt(this.contentLength)) {
      throw new CorruptDataError(`lz4 frame declares ${declared} bytes but holds ${this.contentLength}`);
    }
    this.frameDone = true;
    this.stage = "magic";
  }

  private descriptor(): FrameDescriptor {
    if (this.frame === undefined) throw new Error("lz4 decoder used a frame before reading its header");
    return this.frame;
  }
}

function lastWindow(history: Buffer, output: Buffer): Buffer {
  if (output.length >= WINDOW_SIZE) return Buffer.from(output.subarray(output.length - WINDOW_SIZE));
  const joined = Buffer.concat([history, output]);
  return joined.length > WINDOW_SIZE ? joined.subarray(joined.length - WINDOW_SIZE) : joined;
}
