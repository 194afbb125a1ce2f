// Fuzzing: the WAL name parser, the page-header reader and the LZ4 frame decoder take
// random and mutated input and either succeed or throw one of our typed errors, never anything else.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import fc from "fast-check";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { WalNativeError } from "../../src/errors.js";
import { WalSegment, parseWalFileName } from "../../src/wal/file-name.js";
import { LONG_HEADER_SIZE, checkSegmentHeader, readSegmentHeader } from "../../src/wal/segment-check.js";
import { lz4Codec } from "../../src/compress/lz4.js";
import { decodeBlock } from "../../src/compress/lz4-frame.js";
import { REPO_ROOT } from "../support/paths.js";
import { record } from "./results.js";

/** Fixed seed so a failure reproduces; fast-check prints the counterexample and its path. */
const SEED = Number(process.env["WALNATIVE_FUZZ_SEED"] ?? 20240611);
const RUNS = Number(process.env["WALNATIVE_FUZZ_RUNS"] ?? 1500);
const SEGMENT_SIZES = [1, 2, 16, 64, 1024].map((mb) => mb * 1024 * 1024);

/** Per target: how many inputs were accepted and which error classes rejected the rest. */
const tally = new Map<string, { runs: number; accepted: number; errors: Record<string, number> }>();

function outcome(target: string, attempt: () => unknown): void {
  const entry = tally.get(target) ?? { runs: 0, accepted: 0, errors: {} };
  tally.set(target, entry);
  entry.runs += 1;
  try {
    attempt();
    entry.accepted += 1;
  } catch (error) {
    expectTyped(error);
    const name = (error as Error).name;
    entry.errors[name] = (entry.errors[name] ?? 0) + 1;
  }
}

async function outcomeAsync(target: string, attempt: () => Promise<unknown>): Promise<void> {
  const entry = tally.get(target) ?? { runs: 0, accepted: 0, errors: {} };
  tally.set(target, entry);
  entry.runs += 1;
  try {
    await attempt();
    entry.accepted += 1;
  } catch (error) {
    expectTyped(error);
    const name = (error as Error).name;
    entry.errors[name] = (entry.errors[name] ?? 0) + 1;
  }
}

function expectTyped(error: unknown): void {
  if (!(error instanceof WalNativeError)) {
    throw new Error(`untyped error escaped: ${(error as Error)?.stack ?? String(error)}`);
  }
  expect(error.message).not.toMatch(/[\r\n]/);
  expect(error.exitCode).toBeGreaterThan(0);
}

const hexDigit = fc.constantFrom(..."0123456789ABCDEF");
const validSegmentName = fc
  .tuple(fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xff }))
  .map(([tli, log, seg]) => [tli, log, seg].map((v) => v.toString(16).toUpperCase().padStart(8, "0")).join(""));
const validName = fc.oneof(
  validSegmentName,
  validSegmentName.map((name) => `${name}.partial`),
  fc.integer({ min: 1, max: 0xffffffff }).map((tli) => `${tli.toString(16).toUpperCase().padStart(8, "0")}.history`),
  fc.tuple(validSegmentName, fc.array(hexDigit, { minLength: 8, maxLength: 8 })).map(([name, off]) => `${name}.${off.join("")}.backup`),
);

/** Edits a string the way a typo, a shell or an attacker would: replace, insert, delete, prefix a path. */
const mutatedName = fc
  .tuple(
    validName,
    fc.array(
      fc.tuple(
        fc.constantFrom("replace", "insert", "delete", "prefix", "suffix"),
        fc.nat(),
        fc.constantFrom("/", "\\", "..", "\0", "\n", ".", "a", "f", "G", " ", "0", "é", "../", "/etc/passwd", ".tmp"),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([name, edits]) => {
    let text = name;
    for (const [kind, position, piece] of edits) {
      const at = text.length === 0 ? 0 : position % text.length;
      if (kind === "replace") text = text.slice(0, at) + piece + text.slice(at + 1);
      else if (kind === "insert") text = text.slice(0, at) + piece + text.slice(at);
      else if (kind === "delete") text = text.slice(0, at) + text.slice(at + 1);
      else if (kind === "prefix") text = piece + text;
      else text += piece;
    }
    return text;
  });

const anyName = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 40 }), mutatedName, validName);

describe("WAL file name parser", () => {
  it("accepts exactly PostgreSQL's names and throws InvalidWalNameError on anything else", () => {
    fc.assert(
      fc.property(anyName, fc.constantFrom(...SEGMENT_SIZES), (name, segmentSize) => {
        outcome("WAL name parser", () => {
          const parsed = parseWalFileName(name, segmentSize);
          // Whatever is accepted is safe as an object key and a local file name.
          expect(parsed.name).toBe(name);
          expect(name).toMatch(/^[0-9A-F]{8}(?:[0-9A-F]{16}(?:\.partial|\.[0-9A-F]{8}\.backup)?|\.history)$/);
          if (parsed.segment) expect(parsed.segment.toString()).toBe(name.slice(0, 24));
        });
      }),
      { seed: SEED, numRuns: RUNS * 4 },
    );
  });

  it("round-trips every valid segment name and its successor", () => {
    fc.assert(
      fc.property(validSegmentName, fc.constantFrom(...SEGMENT_SIZES), (name, segmentSize) => {
        let segment: WalSegment;
        try {
          segment = WalSegment.parse(name, segmentSize);
        } catch (error) {
          expectTyped(error);
          // Only a segment number beyond what this segment size allows is refused.
          expect(Number.parseInt(name.slice(16), 16)).toBeGreaterThanOrEqual(0x1_0000_0000 / segmentSize);
          return;
        }
        expect(segment.toString()).toBe(name);
        const next = segment.next(segmentSize);
        expect(next.segmentNumber(segmentSize)).toBe(segment.segmentNumber(segmentSize) + 1n);
        expect(WalSegment.parse(next.toString(), segmentSize).toString()).toBe(next.toString());
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

/** A valid 40-byte long page header for the segment (layout as in test/support/wal.ts makeSegment). */
function rebuildHeader(name: string, segmentSize: number): Buffer {
  const segment = WalSegment.parse(name, segmentSize);
  const page = Buffer.alloc(LONG_HEADER_SIZE);
  page.writeUInt16LE(0xd110, 0);
  page.writeUInt16LE(0x0002, 2);
  page.writeUInt32LE(segment.timeline, 4);
  page.writeBigUInt64LE(segment.startLsn(segmentSize), 8);
  page.writeBigUInt64LE(7_400_000_000_000_000_001n, 24);
  page.writeUInt32LE(segmentSize, 32);
  page.writeUInt32LE(8192, 36);
  return page;
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((array) => Buffer.from(array));
const byteEdits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });

describe("page header reader", () => {
  it("reads random and mutated headers without throwing anything but CorruptDataError", () => {
    const headerCase = fc
      .tuple(validSegmentName, fc.constantFrom(...SEGMENT_SIZES))
      .filter(([name, size]) => Number.parseInt(name.slice(16), 16) < 0x1_0000_0000 / size);
    fc.assert(
      fc.property(
        headerCase,
        fc.oneof(bytes(64), byteEdits.map((edits) => ({ edits }))),
        fc.constantFrom<"exact" | "unknown" | "other">("exact", "unknown", "other"),
        fc.integer({ min: 0, max: 2 ** 31 }),
        ([name, segmentSize], input, sizeKind, otherSize) => {
          const fileSize = sizeKind === "exact" ? segmentSize : sizeKind === "unknown" ? undefined : otherSize;
          const page = Buffer.isBuffer(input) ? input : Buffer.from(rebuildHeader(name, segmentSize));
          if (!Buffer.isBuffer(input)) for (const [at, value] of input.edits) page[at % page.length] = value;
          outcome("page header reader", () => {
            const header = readSegmentHeader(page, name);
            checkSegmentHeader(header, WalSegment.parse(name, segmentSize), fileSize, name);
            // Accepted: the header really describes this segment.
            expect(header.pageAddress).toBe(WalSegment.parse(name, header.segmentSize).startLsn(header.segmentSize));
            expect(header.timeline).toBeLessThanOrEqual(Number.parseInt(name.slice(0, 8), 16));
          });
        },
      ),
      { seed: SEED, numRuns: RUNS * 2 },
    );
  });

  it("accepts every unmutated header for its own name", () => {
    fc.assert(
      fc.property(validSegmentName, fc.constantFrom(...SEGMENT_SIZES), (name, segmentSize) => {
        fc.pre(Number.parseInt(name.slice(16), 16) < 0x1_0000_0000 / segmentSize);
        const header = readSegmentHeader(rebuildHeader(name, segmentSize), name);
        expect(() => checkSegmentHeader(header, WalSegment.parse(name, segmentSize), segmentSize, name)).not.toThrow();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

async function decompress(input: Buffer, cuts: number[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const to = input.length === 0 ? 0 : cut % (input.length + 1);
    if (to > from) chunks.push(input.subarray(from, to));
    from = Math.max(from, to);
  }
  chunks.push(input.subarray(from));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    lz4Codec.decompress(),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

async function compress(input: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([input]),
    lz4Codec.compress(),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

type Mutation = [kind: "flip" | "set" | "truncate" | "delete" | "duplicate" | "insert", at: number, value: number];
const mutation = fc.tuple(
  fc.constantFrom("flip", "set", "truncate", "delete", "duplicate", "insert") as fc.Arbitrary<Mutation[0]>,
  fc.nat(),
  fc.integer({ min: 0, max: 255 }),
);

function mutate(frame: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(frame);
  for (const [kind, position, value] of mutations) {
    const at = out.length === 0 ? 0 : position % out.length;
    const span = 1 + (value % 16);
    if (kind === "flip") out[at] = (out[at] ?? 0) ^ (1 << (value % 8));
    else if (kind === "set") out[at] = value;
    else if (kind === "truncate") out = out.subarray(0, at);
    else if (kind === "delete") out = Buffer.concat([out.subarray(0, at), out.subarray(at + span)]);
    else if (kind === "duplicate") out = Buffer.concat([out.subarray(0, at + span), out.subarray(at)]);
    else out = Buffer.concat([out.subarray(0, at), Buffer.from([value]), out.subarray(at)]);
  }
  return out;
}

describe("LZ4 frame decoder", () => {
  const fixtures = ["walg-v3.0.9.lz4", "cli-linked-64k.lz4", "cli-checksums-size.lz4"].map((name) =>
    readFileSync(join(REPO_ROOT, "test", "fixtures", "compress", name)),
  );
  const cuts = fc.array(fc.nat(), { maxLength: 4 });

  it("decodes frames of random content split anywhere, and rejects them mutated with CorruptDataError only", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(bytes(3000), fc.tuple(fc.integer({ min: 0, max: 255 }), fc.nat({ max: 70_000 })).map(([b, n]) => Buffer.alloc(n, b))),
        fc.array(mutation, { maxLength: 3 }),
        cuts,
        async (content, mutations, splits) => {
          const frame = await compress(content);
          if (mutations.length === 0) {
            expect((await decompress(frame, splits)).equals(content)).toBe(true);
            return;
          }
          await outcomeAsync("LZ4 frame decoder (mutated frames of random content)", () => decompress(mutate(frame, mutations), splits));
        },
      ),
      { seed: SEED, numRuns: RUNS / 3 },
    );
  });

  it("rejects mutated wal-g and lz4-CLI frames (linked blocks, block checksums, content size) only with typed errors", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1, 2), fc.array(mutation, { minLength: 1, maxLength: 4 }), cuts, async (which, mutations, splits) => {
        const frame = fixtures[which] ?? Buffer.alloc(0);
        await outcomeAsync("LZ4 frame decoder (mutated wal-g/CLI frames)", () => decompress(mutate(frame, mutations), splits));
      }),
      { seed: SEED, numRuns: RUNS / 2 },
    );
  });

  it("rejects random bytes, also behind a valid frame header", async () => {
    const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x70, 0xb9]);
    await fc.assert(
      fc.asyncProperty(bytes(600), fc.boolean(), cuts, async (noise, withHeader, splits) => {
        const input = withHeader ? Buffer.concat([header, noise]) : noise;
        await outcomeAsync("LZ4 frame decoder (random bytes)", () => decompress(input, splits));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("decodes random blocks into bounded output or throws CorruptDataError", () => {
    fc.assert(
      fc.property(bytes(300), fc.nat({ max: 4096 }), fc.nat({ max: 64 }), (block, room, prefix) => {
        const target = Buffer.alloc(prefix + room);
        outcome("LZ4 block decoder", () => {
          const end = decodeBlock(block, target, prefix, 0);
          expect(end).toBeGreaterThanOrEqual(prefix);
          expect(end).toBeLessThanOrEqual(target.length);
        });
      }),
      { seed: SEED, numRuns: RUNS * 4 },
    );
  });
});

let failures = 0;
afterEach(({ task }) => {
  if (task.result?.state === "fail") failures += 1;
});

afterAll(() => {
  // Only a clean run is a result worth reporting.
  if (failures > 0) return;
  for (const [target, entry] of tally) {
    record({
      scenario: "10 fuzzing",
      check: target,
      outcome: `${entry.runs} inputs: ${entry.accepted} accepted, the rest refused with typed errors only`,
      figures: { seed: SEED, inputs: entry.runs, accepted: entry.accepted, ...prefixKeys(entry.errors) },
    });
  }
});

function prefixKeys(errors: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(errors).map(([name, count]) => [`rejected: ${name}`, count]));
}
