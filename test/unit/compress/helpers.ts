// Shared by the codec tests: deterministic inputs, chunked streaming, and the compression CLIs as independent peers.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Transform } from "node:stream";

export const MiB = 1024 * 1024;

/** xorshift32: fast, seeded, good enough to defeat compression. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

export function randomBytes(size: number, seed = 1): Buffer {
  const next = random(seed);
  const out = Buffer.allocUnsafe(size);
  let i = 0;
  for (; i + 4 <= size; i += 4) out.writeUInt32LE(next(), i);
  for (; i < size; i++) out[i] = next() & 0xff;
  return out;
}

/**
 * Roughly what a pgbench WAL segment looks like to a compressor: 8 KiB pages of records with changing ids and
 * checksums, blank-padded tuples, and now and then a page image of noisy bytes. lz4 gets it to about a fifth.
 */
export function walLikeBytes(size: number, seed = 7): Buffer {
  const next = random(seed);
  const out = Buffer.alloc(size);
  let lsn = 0x1000000;
  for (let page = 0; page < size; page += 8192) {
    const end = Math.min(page + 8192, size);
    if (page + 24 <= end) {
      out.writeUInt32LE(0xd110, page);
      out.writeUInt32LE(lsn, page + 8);
    }
    for (let at = page + 24; at + 160 <= end; ) at = writeRecord(out, at, next, (lsn += 160));
  }
  return out;
}

function writeRecord(out: Buffer, at: number, next: () => number, lsn: number): number {
  out.writeUInt32LE(160, at);
  out.writeUInt32LE(lsn >>> 4, at + 4);
  out.writeUInt32LE(next(), at + 20);
  if (next() % 40 === 0) {
    for (let i = at + 24; i < at + 160; i += 4) out.writeUInt32LE(next() & 0x0f0f0f0f, i);
    return at + 160;
  }
  out.write(`${next() % 100000}|${next() % 10}|${(next() % 20000) - 10000}|`.padEnd(100, " "), at + 24, "latin1");
  return at + 160;
}

/** Yields data in pieces of `chunkSize` bytes (the last one shorter). */
export function* chunked(data: Buffer, chunkSize: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += chunkSize) yield data.subarray(i, i + chunkSize);
}

/** Irregular pieces: tiny ones, one that crosses a whole 4 MiB block, odd sizes in between. */
export function* awkwardPieces(data: Buffer): Generator<Buffer> {
  const pattern = [7, 65537, 1, 4 * MiB - 3, 13, 1000];
  for (let i = 0, at = 0; at < data.length; i++) {
    const size = pattern[i % pattern.length] ?? 1;
    yield data.subarray(at, at + size);
    at += size;
  }
}

export async function runTransform(
  stream: Transform,
  input: Iterable<Buffer> | AsyncIterable<Buffer>,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(chunk);
      callback();
    },
  });
  await pipeline(Readable.from(input), stream, sink);
  return Buffer.concat(parts);
}

export async function transformBuffer(stream: Transform, data: Buffer, chunkSize = 64 * 1024): Promise<Buffer> {
  return runTransform(stream, chunked(data, chunkSize));
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

const CLI_PACKAGES: Record<string, string> = { lz4: "lz4", zstd: "zstd", xz: "xz-utils", gzip: "gzip" };

/** Runs a compression CLI on stdin. A missing CLI fails (never skips) the test: they are the independent reference. */
export function cli(command: string, args: readonly string[], input: Buffer): Buffer {
  const result = spawnSync(command, args, { input, maxBuffer: 1 << 30 });
  if (result.error !== undefined) {
    const hint = `install it: apt-get install ${CLI_PACKAGES[command] ?? command}`;
    throw new Error(`cannot run the ${command} CLI (${result.error.message}); ${hint}`);
  }
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout;
}

/** Like cli(), but the input is a file named last on the command line: some options (lz4 --content-size) need one. */
export function cliOnFile(command: string, args: readonly string[], input: Buffer): Buffer {
  const directory = mkdtempSync(join(tmpdir(), "wal-native-codec-"));
  try {
    const path = join(directory, "input");
    writeFileSync(path, input);
    return cli(command, [...args, path], Buffer.alloc(0));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

export function fixture(name: string): Buffer {
  return readFileSync(new URL(`../../fixtures/compress/${name}`, import.meta.url));
}

/** The plain content of every file in test/fixtures/compress (see its README). */
export const FIXTURE_CONTENT_SIZE = 150_000;
