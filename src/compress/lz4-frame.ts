// LZ4 frame pieces without streams: wal-g's header, descriptor parsing, a block decoder, an input queue.
import { xxh32 } from "@node-rs/xxhash";
import { CorruptDataError } from "../errors.js";

export const FRAME_MAGIC = 0x184d2204;
export const LEGACY_MAGIC = 0x184c2102;
/** Skippable frames use magics 0x184D2A50..0x184D2A5F (LZ4 frame format spec, "Skippable Frames"). */
export const isSkippableMagic = (magic: number): boolean => (magic & 0xfffffff0) === 0x184d2a50;

/** FLG 0x64 (v01, independent blocks, content checksum), BD 0x70 (4 MiB blocks), HC 0xB9: pierrec/lz4 defaults. */
export const WRITER_HEADER: Buffer = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x70, 0xb9]);
export const WRITER_BLOCK_SIZE = 4 * 1024 * 1024;
export const END_MARK_SIZE = 4;
/** Size-field bit meaning "block stored uncompressed". */
const STORED_BIT = 0x80000000;
/** Linked blocks may reference up to 64 KiB of earlier output. */
export const WINDOW_SIZE = 64 * 1024;

export interface FrameDescriptor {
  readonly independentBlocks: boolean;
  readonly blockChecksum: boolean;
  readonly contentChecksum: boolean;
  /** Declared uncompressed size, when the frame carries one. */
  readonly contentSize: bigint | undefined;
  readonly maxBlockSize: number;
}

const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const MAX_BLOCK_SIZES: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

/** Bytes after the magic up to and including HC, known from FLG alone. */
export function descriptorLength(flg: number): number {
  return 3 + (flg & FLG_CONTENT_SIZE ? 8 : 0) + (flg & FLG_DICT_ID ? 4 : 0);
}

/** HC is the second byte of xxh32 (seed 0) over FLG through the last optional field. */
export function headerChecksum(descriptor: Uint8Array): number {
  return (xxh32(descriptor, 0) >>> 8) & 0xff;
}

export function parseDescriptor(bytes: Buffer): FrameDescriptor {
  const flg = bytes[0] ?? 0;
  const bd = bytes[1] ?? 0;
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_01) throw corrupt(`unsupported lz4 frame version (FLG 0x${hex(flg)})`);
  if (flg & FLG_RESERVED || bd & 0x8f) {
    throw corrupt(`lz4 frame header has reserved bits set (FLG 0x${hex(flg)}, BD 0x${hex(bd)})`);
  }
  if (flg & FLG_DICT_ID) throw corrupt("lz4 frame needs an external dictionary, which wal-g never writes");
  const maxBlockSize = MAX_BLOCK_SIZES[bd >> 4];
  if (maxBlockSize === undefined) throw corrupt(`lz4 frame has an invalid block size (BD 0x${hex(bd)})`);
  const checksum = bytes[bytes.length - 1];
  if (checksum !== headerChecksum(bytes.subarray(0, bytes.length - 1))) {
    throw corrupt("lz4 frame header checksum mismatch");
  }
  return {
    independentBlocks: (flg & FLG_INDEPENDENT) !== 0,
    blockChecksum: (flg & FLG_BLOCK_CHECKSUM) !== 0,
    contentChecksum: (flg & FLG_CONTENT_CHECKSUM) !== 0,
    contentSize: flg & FLG_CONTENT_SIZE ? bytes.readBigUInt64LE(2) : undefined,
    maxBlockSize,
  };
}

export function blockSizeField(size: number, stored: boolean): Buffer {
  const field = Buffer.allocUnsafe(4);
  field.writeUInt32LE(stored ? (size | STORED_BIT) >>> 0 : size, 0);
  return field;
}

/** Matches shorter than this are copied byte by byte: cheaper than a copyWithin call. */
const SHORT_COPY = 32;

/**
 * Decodes one LZ4 block (LZ4 block format spec) into dst at dstStart and returns the end offset.
 * Matches may reach back to windowStart, which is how linked blocks see the previous 64 KiB.
 * The streaming reader's decoder, and the whole-object one's for linked blocks: the C binding (lz4-native.ts)
 * has no call that decodes against the previous block's window.
 */
export function decodeBlock(src: Uint8Array, dst: Uint8Array, dstStart: number, windowStart: number): number {
  const srcEnd = src.length;
  const dstEnd = dst.length;
  let s = 0;
  let d = dstStart;
  for (;;) {
    if (s >= srcEnd) throw corruptBlock();
    const token = src[s++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      let more: number;
      do {
        if (s >= srcEnd) throw corruptBlock();
        more = src[s++]!;
        literals += more;
      } while (more === 255);
    }
    if (literals > srcEnd - s || literals > dstEnd - d) throw corruptBlock();
    copyLiterals(src, s, dst, d, literals);
    s += literals;
    d += literals;
    if (s === srcEnd) return d; // the last sequence has literals only
    if (srcEnd - s < 2) throw corruptBlock();
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > d - windowStart) throw corruptBlock();
    let length = (token & 15) + 4;
    if (length === 19) {
      let more: number;
      do {
        if (s >= srcEnd) throw corruptBlock();
        more = src[s++]!;
        length += more;
      } while (more === 255);
    }
    if (length > dstEnd - d) throw corruptBlock();
    copyMatch(dst, d, offset, length);
    d += length;
  }
}

function copyLiterals(src: Uint8Array, from: number, dst: Uint8Array, to: number, length: number): void {
  if (length < SHORT_COPY) {
    for (let i = 0; i < length; i++) dst[to + i] = src[from + i]!;
  } else {
    dst.set(src.subarray(from, from + length), to);
  }
}

function copyMatch(dst: Uint8Array, to: number, offset: number, length: number): void {
  const from = to - offset;
  if (length < SHORT_COPY) {
    for (let i = 0; i < length; i++) dst[to + i] = dst[from + i]!;
  } else if (offset >= length) {
    dst.copyWithin(to, from, from + length);
  } else {
    // Overlapping match: the output repeats with period `offset`, so copy one period and then keep doubling.
    dst.copyWithin(to, from, to);
    let done = offset;
    while (done < length) {
      const step = Math.min(done, length - done);
      dst.copyWithin(to + done, to, to + step);
      done += step;
    }
  }
}

/** Input chunks not parsed yet; take() copies only when a read spans chunks. */
export class ByteQueue {
  private readonly chunks: Buffer[] = [];
  private offset = 0;
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** First unread byte; callers check length first. */
  peek(): number {
    return this.chunks[0]?.[this.offset] ?? 0;
  }

  take(size: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.offset >= size) {
      const slice = first.subarray(this.offset, this.offset + size);
      this.consume(size);
      return slice;
    }
    const joined = Buffer.allocUnsafe(size);
    this.consume(size, joined);
    return joined;
  }

  skip(size: number): number {
    const count = Math.min(size, this.length);
    this.consume(count);
    return count;
  }

  /** Drops (or copies into target) the next `size` bytes; used chunks go in one splice, as tiny chunks are common. */
  private consume(size: number, target?: Buffer): void {
    let done = 0;
    let index = 0;
    let offset = this.offset;
    while (done < size) {
      const chunk = this.chunks[index];
      if (chunk === undefined) throw new Error("lz4 decoder read past its input");
      const count = Math.min(size - done, chunk.length - offset);
      target?.set(chunk.subarray(offset, offset + count), done);
      done += count;
      offset += count;
      if (offset === chunk.length) {
        index++;
        offset = 0;
      }
    }
    this.chunks.splice(0, index);
    this.offset = offset;
    this.length -= size;
  }
}

function corruptBlock(): CorruptDataError {
  return corrupt("lz4 block is corrupt");
}

function corrupt(message: string): CorruptDataError {
  return new CorruptDataError(message);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0").toUpperCase();
}
