// LZ4: the exact frame wal-g writes, and a reader that accepts what wal-g's reader accepts (walg-compat.md 2.2).
import { xxh32 } from "@node-rs/xxhash";
import { describe, expect, it } from "vitest";
import { lz4Codec } from "../../../src/compress/lz4.js";
import { WRITER_HEADER, headerChecksum } from "../../../src/compress/lz4-frame.js";
import { CorruptDataError } from "../../../src/errors.js";
import {
  FIXTURE_CONTENT_SIZE,
  MiB,
  cli,
  cliOnFile,
  fixture,
  randomBytes,
  rejectionOf,
  transformBuffer,
  walLikeBytes,
} from "./helpers.js";

const compress = (data: Buffer, chunk?: number) => transformBuffer(lz4Codec.compress(), data, chunk);
const decompress = (data: Buffer, chunk?: number) => transformBuffer(lz4Codec.decompress(), data, chunk);

interface BlockInfo {
  readonly size: number;
  readonly stored: boolean;
  readonly data: Buffer;
}

/** Walks a frame with wal-g's layout (7-byte header, no block checksums) and returns its blocks and trailer. */
function blocksOf(frame: Buffer): { blocks: BlockInfo[]; checksum: number } {
  const blocks: BlockInfo[] = [];
  let at = 7;
  for (let field = frame.readUInt32LE(at); field !== 0; field = frame.readUInt32LE(at)) {
    const size = field & 0x7fffffff;
    blocks.push({ size, stored: field >>> 31 === 1, data: frame.subarray(at + 4, at + 4 + size) });
    at += 4 + size;
  }
  expect(frame.length).toBe(at + 8);
  return { blocks, checksum: frame.readUInt32LE(at + 4) };
}

describe("lz4 writer", () => {
  it("writes the exact empty frame wal-g writes", async () => {
    const empty = await compress(Buffer.alloc(0));
    expect(empty.toString("hex")).toBe("04224d186470b900000000055dcc02");
  });

  it("starts every frame with FLG 0x64, BD 0x70 and a matching header checksum", async () => {
    expect(WRITER_HEADER.toString("hex")).toBe("04224d186470b9");
    expect(headerChecksum(Buffer.from([0x64, 0x70]))).toBe(0xb9);
    expect((await compress(walLikeBytes(1000))).subarray(0, 7).equals(WRITER_HEADER)).toBe(true);
  });

  it("cuts 16 MiB of zeros into exactly four compressed 4 MiB blocks", async () => {
    const zeros = Buffer.alloc(16 * MiB);
    const frame = await compress(zeros, 1 * MiB + 3);
    const { blocks, checksum } = blocksOf(frame);
    expect(blocks.map((b) => b.stored)).toEqual([false, false, false, false]);
    expect(checksum).toBe(xxh32(zeros, 0) >>> 0);
    expect((await decompress(frame)).equals(zeros)).toBe(true);
  });

  it("stores an incompressible 4 MiB block with the high bit set", async () => {
    const noise = randomBytes(4 * MiB + 1, 99);
    const frame = await compress(noise);
    const { blocks } = blocksOf(frame);
    expect(frame.readUInt32LE(7)).toBe((0x80000000 | (4 * MiB)) >>> 0);
    expect(blocks.map((b) => [b.size, b.stored])).toEqual([[4 * MiB, true], [1, true]]);
    expect(blocks[0]?.data.equals(noise.subarray(0, 4 * MiB))).toBe(true);
  });

  it("writes output the lz4 CLI decodes", async () => {
    for (const data of [Buffer.alloc(0), walLikeBytes(9 * MiB + 5), randomBytes(5 * MiB)]) {
      expect(cli("lz4", ["-d", "-c"], await compress(data)).equals(data)).toBe(true);
    }
  });
});

describe("lz4 reader", () => {
  const data = walLikeBytes(1 * MiB + 77);

  // [label, CLI flags, expected FLG, expected BD]: the header bytes prove which variant each case exercises.
  it.each([
    ["4 MiB independent blocks (the default, like wal-g)", [], 0x64, 0x70],
    ["64 KiB linked blocks", ["-B4", "-BD"], 0x44, 0x40],
    ["256 KiB linked blocks", ["-B5", "-BD"], 0x44, 0x50],
    ["1 MiB independent blocks", ["-B6"], 0x64, 0x60],
    ["content size", ["--content-size"], 0x6c, 0x70],
    ["1 MiB linked blocks with content size", ["-BD", "-B6", "--content-size"], 0x4c, 0x60],
    ["block checksums", ["-BX"], 0x74, 0x70],
    ["no content checksum", ["--no-frame-crc"], 0x60, 0x70],
    ["everything at once", ["-B4", "-BD", "-BX", "--content-size"], 0x5c, 0x40],
    ["high compression, linked", ["-9", "-B4", "-BD"], 0x44, 0x40],
  ] as const)("decodes lz4 CLI output: %s", async (_label, flags, flg, bd) => {
    const frame = cliOnFile("lz4", ["-c", ...flags], data);
    expect([frame[4], frame[5]]).toEqual([flg, bd]);
    expect((await decompress(frame, 7)).equals(data)).toBe(true);
    expect((await decompress(frame)).equals(data)).toBe(true);
  });

  const FIXTURES = ["walg-v3.0.9.lz4", "cli-linked-64k.lz4", "cli-checksums-size.lz4"];
  it.each(FIXTURES)("decodes the %s fixture", async (name) => {
    expect((await decompress(fixture(name), 4099)).equals(walLikeBytes(FIXTURE_CONTENT_SIZE))).toBe(true);
  });

  it("skips skippable frames around the frame", async () => {
    const skippable = (magicLow: number, body: Buffer) => {
      const header = Buffer.alloc(8);
      header.writeUInt32LE(0x184d2a50 + magicLow, 0);
      header.writeUInt32LE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    const before = [skippable(0, Buffer.from("meta")), skippable(15, Buffer.alloc(70000))];
    const framed = Buffer.concat([...before, await compress(data), skippable(3, Buffer.alloc(0))]);
    expect((await decompress(framed, 5)).equals(data)).toBe(true);
  });

  it("rejects a second frame instead of dropping it like wal-g", async () => {
    const frame = await compress(data);
    await expectCorrupt(decompress(Buffer.concat([frame, frame])), /after the lz4 frame/);
  });

  it("rejects trailing bytes after the frame", async () => {
    await expectCorrupt(decompress(Buffer.concat([await compress(data), Buffer.from([0, 0])])), /after the lz4 frame/);
  });

  it("rejects the legacy format", async () => {
    await expectCorrupt(decompress(cli("lz4", ["-l", "-c"], data)), /legacy/);
  });

  it("rejects an empty object", async () => {
    await expectCorrupt(decompress(Buffer.alloc(0)), /empty/);
  });
});

describe("lz4 reader on corrupt input", () => {
  const data = walLikeBytes(6 * MiB);
  const framePromise = compress(data);

  it("rejects a flipped bit inside a block", async () => {
    const frame = Buffer.from(await framePromise);
    for (const at of [20, 1000, frame.length >> 1]) {
      const damaged = Buffer.from(frame);
      damaged[at] = (damaged[at] ?? 0) ^ 0x10;
      await expectCorrupt(decompress(damaged));
    }
  });

  it("rejects truncation anywhere", async () => {
    const frame = await framePromise;
    const end = frame.length;
    for (const length of [1, 4, 6, 7, 9, 11, 4000, end >> 1, end - 8, end - 4, end - 1]) {
      await expectCorrupt(decompress(frame.subarray(0, length)), /truncated/);
    }
  });

  it("rejects a wrong content checksum", async () => {
    const frame = Buffer.from(await framePromise);
    frame[frame.length - 1] = (frame[frame.length - 1] ?? 0) ^ 1;
    await expectCorrupt(decompress(frame), /content checksum/);
  });

  it("rejects a wrong header checksum", async () => {
    const frame = Buffer.from(await framePromise);
    frame[6] = 0xb8;
    await expectCorrupt(decompress(frame), /header checksum/);
  });

  it("rejects a bad magic number", async () => {
    await expectCorrupt(decompress(Buffer.from("not lz4 at all")), /not an lz4 frame/);
  });

  it("rejects a flipped bit when block checksums are on", async () => {
    const frame = cli("lz4", ["-c", "-BX", "-B4"], data.subarray(0, 200000));
    frame[100] = (frame[100] ?? 0) ^ 1;
    await expectCorrupt(decompress(frame), /block checksum/);
  });

  it("rejects a declared content size that does not match", async () => {
    const frame = cliOnFile("lz4", ["-c", "--content-size"], data.subarray(0, 5000));
    frame.writeBigUInt64LE(4999n, 6);
    frame[14] = headerChecksum(frame.subarray(4, 14));
    await expectCorrupt(decompress(frame), /declares 4999 bytes/);
  });

  it("rejects a block larger than the frame's maximum", async () => {
    const frame = Buffer.from(cli("lz4", ["-c", "-B4"], Buffer.alloc(10)));
    frame.writeUInt32LE(65537, 7);
    await expectCorrupt(decompress(frame), /maximum block size/);
  });

  it("rejects reserved header bits and a dictionary id", async () => {
    for (const [flg, pattern] of [[0x66, /reserved/], [0x65, /dictionary/], [0xa4, /version/]] as const) {
      const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, flg, 0x70, 0, 0, 0, 0, 0]);
      const end = flg & 1 ? 10 : 6;
      header[end] = headerChecksum(header.subarray(4, end));
      await expectCorrupt(decompress(header.subarray(0, end + 1)), pattern);
    }
  });
});

async function expectCorrupt(promise: Promise<unknown>, message?: RegExp): Promise<void> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(CorruptDataError);
  if (message !== undefined) expect((error as Error).message).toMatch(message);
}
