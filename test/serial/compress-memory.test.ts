// Memory stays bounded by a constant: long inputs stream through, and decoders wait for a slow reader. In the
// "serial" project, alone in its process and after the parallel unit tests: its RSS slope and its waits for a
// stream to settle must not share the cores and the heap with other tests.
import { Xxh32 } from "@node-rs/xxhash";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Transform } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { Codec } from "../../src/compress/codec.js";
import { brotliCodec } from "../../src/compress/brotli.js";
import { gzipCodec } from "../../src/compress/gzip.js";
import { lz4Codec } from "../../src/compress/lz4.js";
import { zstdCodec } from "../../src/compress/zstd.js";
import { MiB, cli, randomBytes, transformBuffer, walLikeBytes } from "../unit/compress/helpers.js";

const TOTAL = 512 * MiB;
const template = walLikeBytes(1 * MiB);

/** Fresh 1 MiB buffers (the stream may still hold earlier ones), each slightly different; RSS sampled as it goes. */
async function* generate(hash: Xxh32, rss: number[]): AsyncGenerator<Buffer> {
  for (let i = 0; i < TOTAL / MiB; i++) {
    const chunk = Buffer.from(template);
    chunk.writeUInt32LE(i, 100);
    hash.update(chunk);
    rss.push(process.memoryUsage().rss);
    yield chunk;
  }
}

/** Least-squares slope of RSS samples taken one per MiB of input: MiB of RSS per MiB of input. */
function growthPerInput(samples: readonly number[]): number {
  const meanIndex = (samples.length - 1) / 2;
  const meanRss = samples.reduce((sum, value) => sum + value, 0) / samples.length;
  let covariance = 0;
  let variance = 0;
  samples.forEach((value, index) => {
    covariance += (index - meanIndex) * (value - meanRss);
    variance += (index - meanIndex) ** 2;
  });
  return covariance / variance / MiB;
}

describe("bounded memory", () => {
  /**
   * RSS levels off after the first blocks (allocator and GC slack, about 70 MiB here) and must then stay flat:
   * buffering would grow it by the input size, and a native leak (lz4-napi's output buffers, which only
   * finalizers freed, grew it by 0.25 MiB per MiB) would show as well. Flat is judged by the slope of RSS over
   * the input after the first 128 MiB, not by its peak against one sample: RSS swings by ~30 MiB as V8
   * collects, and a sample taken just after a collection once put a flat run 37 MiB under its peak (CI, under
   * the load of the parallel unit tests). Measured slopes: -0.02 to 0.00 MiB per MiB as it is; 0.05 and 0.14
   * with a leak of 1/16 and 1/8 MiB per MiB added to this test.
   */
  it("streams 512 MiB through lz4 compress and decompress without RSS growing with the input", async () => {
    const sent = new Xxh32(0);
    const received = new Xxh32(0);
    const rss: number[] = [process.memoryUsage().rss];
    let length = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received.update(chunk);
        length += chunk.length;
        callback();
      },
    });
    await pipeline(generate(sent, rss), lz4Codec.compress(), lz4Codec.decompress(), sink);
    expect(length).toBe(TOTAL);
    expect(received.digest()).toBe(sent.digest());
    const peak = Math.max(...rss);
    expect(peak - (rss[0] ?? 0)).toBeLessThan(128 * MiB);
    expect(growthPerInput(rss.slice(128))).toBeLessThan(0.03);
  }, 30_000);

  it("lz4 compressor holds one block of output while nobody reads", async () => {
    const compressor = lz4Codec.compress();
    compressor.end(randomBytes(32 * MiB, 5));
    expect(await settledReadableLength(compressor)).toBeLessThanOrEqual(4 * MiB + 64);
    let length = 0;
    for await (const chunk of compressor) length += (chunk as Buffer).length;
    expect(length).toBeGreaterThan(32 * MiB);
  });

  // [codec, its compressed form of 64 MiB of zeros]: each is a few KiB that expands 1000-fold or more.
  const zeros = Buffer.alloc(64 * MiB);
  it.each([
    ["lz4", lz4Codec, () => transformBuffer(lz4Codec.compress(), zeros)],
    ["zstd", zstdCodec, () => transformBuffer(zstdCodec.compress(), zeros)],
    ["brotli", brotliCodec, () => transformBuffer(brotliCodec.compress(), zeros)],
    ["gzip", gzipCodec, async () => cli("gzip", ["-c"], zeros)],
  ] as const)("%s decoder holds little output while nobody reads", async (_name, codec: Codec, make) => {
    const compressed = await make();
    const decoder = codec.decompress();
    decoder.end(compressed);
    const buffered = await settledReadableLength(decoder);
    expect(buffered).toBeLessThanOrEqual(4 * MiB + 64 * 1024);
    let length = 0;
    for await (const chunk of decoder) length += (chunk as Buffer).length;
    expect(length).toBe(64 * MiB);
  });
});

/**
 * Waits until the stream has produced output and then stopped (zlib works on the thread pool), and reports what it
 * buffered. Output first: a stream that has not started yet also holds nothing, which would pass vacuously.
 */
async function settledReadableLength(stream: Transform): Promise<number> {
  const deadline = Date.now() + 20_000;
  let previous = -1;
  for (let stable = 0; stable < 3; ) {
    if (Date.now() > deadline) throw new Error(`the stream did not settle (holding ${stream.readableLength} bytes)`);
    await sleep(20);
    stable = stream.readableLength > 0 && stream.readableLength === previous ? stable + 1 : 0;
    previous = stream.readableLength;
  }
  return previous;
}
