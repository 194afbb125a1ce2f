// Crash during upload: wal-archive killed with SIGKILL at seeded random points of its upload. No partial object may
// ever be visible; the retry (as PostgreSQL would run it) succeeds; the archive ends gap-free and restorable.
// Orphaned multipart uploads are counted, and what `wal-native init` does about them is recorded. The kill is
// triggered by the fault proxy seeing the chosen request reach the chosen point (and holding it there until the
// process is dead), not by a delay: every trial is killed mid-upload, however fast or loaded the machine.
import { createHash } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GetBucketLifecycleConfigurationCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Readable } from "node:stream";
import { WalSegment } from "../../src/wal/file-name.js";
import { lz4Codec } from "../../src/compress/lz4.js";
import { type FaultRule, FaultProxy } from "../support/fault-proxy.js";
import { listKeys, minioEnv, minioInfo, uniquePrefix } from "../support/minio.js";
import { MiB, makeSegment } from "../support/wal.js";
import { record } from "./results.js";
import { baseEnv, listOpenUploads, readStored, runTool, s3, scratchDir } from "./tools.js";

const SEED = Number(process.env["WALNATIVE_CRASH_SEED"] ?? 6061);
const TRIALS = Number(process.env["WALNATIVE_CRASH_TRIALS"] ?? 30);
const FIRST = WalSegment.parse("000000010000000200000010");

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nameOf = (i: number): string => WalSegment.fromSegmentNumber(1, FIRST.segmentNumber(16 * MiB) + BigInt(i), 16 * MiB).toString();
/** Every third trial is lz4 (a single PUT); the others are 16 MiB uncompressed in 5 MiB parts (multipart). */
const codecOf = (i: number): "none" | "lz4" => (i % 3 === 2 ? "lz4" : "none");
const keyOf = (prefix: string, i: number): string => `${prefix}/wal_005/${nameOf(i)}${codecOf(i) === "lz4" ? ".lz4" : ""}`;
const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/** Deterministic content per trial: 4 MiB of seeded noise, the rest zero like a partly used segment. */
function segmentFor(i: number): Buffer {
  const next = prng(SEED * 1000 + i);
  const noise = Buffer.alloc(4 * MiB);
  for (let at = 0; at < noise.length; at += 4) noise.writeUInt32LE(Math.floor(next() * 4294967296), at);
  return makeSegment(nameOf(i), { seed: noise });
}

let work: string;
let prefix: string;
let proxy: FaultProxy;
const env = (i: number) =>
  baseEnv({ ...minioEnv(prefix), WALG_COMPRESSION_METHOD: codecOf(i), WALG_S3_MAX_PART_SIZE: String(5 * MiB) });

beforeAll(async () => {
  work = await scratchDir("crash");
  prefix = uniquePrefix("crash");
  proxy = await FaultProxy.start(minioInfo().endpoint);
});

afterAll(async () => {
  await proxy?.close();
});

/** A point of trial i's upload to kill at: which request of the segment's object, and how far into it. */
interface KillPoint {
  readonly request: "put" | "create" | `part ${number}` | "complete";
  /** A fraction of the request's body forwarded, or "answer": all of it, and the server has answered. */
  readonly at: number | "answer";
}

/**
 * lz4 objects (about 4 MiB) go in one PUT; uncompressed ones (16 MiB in 5 MiB parts) as a multipart upload:
 * create, parts 1 to 4, complete. A quarter of the points are at the answer (the request done, its ack lost).
 */
function killPoint(i: number, random: () => number): KillPoint {
  const requests: KillPoint["request"][] = codecOf(i) === "lz4" ? ["put"] : ["create", "part 1", "part 2", "part 3", "part 4", "complete"];
  const request = requests[Math.floor(random() * requests.length)]!;
  return { request, at: random() < 0.25 ? "answer" : random() };
}

/** The proxy rule that matches point.request for segment i's object. */
function ruleFor(i: number, point: KillPoint, action: FaultRule["action"]): FaultRule {
  const path = new RegExp(`/wal_005/${nameOf(i)}(\\.lz4)?$`);
  const part = /^part (\d+)$/.exec(point.request)?.[1];
  if (part) return { method: "PUT", path, query: new RegExp(`(^|&)partNumber=${part}(&|$)`), times: 1, action };
  if (point.request === "create") return { method: "POST", path, query: /(^|&)uploads(=|&|$)/, times: 1, action };
  if (point.request === "complete") return { method: "POST", path, query: /(^|&)uploadId=/, times: 1, action };
  return { method: "PUT", path, times: 1, action };
}

describe("kill -9 of wal-archive during upload", () => {
  it(`never leaves a visible partial object; retries succeed; the archive is gap-free (${TRIALS} trials, each killed mid-upload)`, async () => {
    const random = prng(SEED);
    const outcomes = { "killed, nothing visible": 0, "killed, complete object visible": 0 };
    const points = { "with its request under way": 0, "with its request done, its answer held back": 0 };
    const hashes: string[] = [];
    const orphans: { key: string; uploadId: string }[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const bytes = segmentFor(i);
      hashes.push(sha256(bytes));
      const path = join(work, nameOf(i));
      await writeFile(path, bytes);
      const point = killPoint(i, random);
      points[point.at === "answer" ? "with its request done, its answer held back" : "with its request under way"] += 1;
      const where = `trial ${i}: ${point.request} at ${point.at === "answer" ? "the answer" : `${Math.round(point.at * 100)} % of its body`}`;
      let pid: number | undefined;
      let held = false;
      let release: () => void = () => undefined;
      proxy.reset();
      proxy.inject(
        ruleFor(i, point, {
          kind: "hold",
          at: point.at,
          reached: () => {
            held = true;
            process.kill(pid!, "SIGKILL");
          },
          release: new Promise<void>((resolve) => (release = resolve)),
        }),
      );
      const killed = await runTool("wal-archive", [path, nameOf(i)], {
        env: { ...env(i), AWS_ENDPOINT: proxy.endpoint },
        onSpawn: (spawned) => (pid = spawned),
        timeoutMs: 120_000,
      });
      // Only now may the proxy go on: whatever the dead client had sent reaches MinIO, a cut request stays cut.
      release();
      expect(held, `${where}: the proxy never saw that point (exit ${killed.code}): ${killed.stderr}`).toBe(true);
      expect(killed.signal, `${where}: ${killed.stderr}`).toBe("SIGKILL");
      // MinIO may still be finishing a request the dead client sent in full (a CompleteMultipartUpload).
      const visible = await settledListing(`${prefix}/wal_005/${nameOf(i)}`);
      if (visible.length > 0) {
        // Whatever is visible must be the whole segment, byte for byte.
        expect(visible).toEqual([keyOf(prefix, i)]);
        const stored = await decoded(i, (await readStored(keyOf(prefix, i))).body);
        expect(sha256(stored), `${where}: ${stored.length} bytes visible after the kill`).toBe(hashes[i]);
      }
      outcomes[visible.length > 0 ? "killed, complete object visible" : "killed, nothing visible"] += 1;
      // PostgreSQL retries the segment: this must succeed, whatever the killed run left behind.
      const retry = await runTool("wal-archive", [path, nameOf(i)], { env: env(i) });
      expect(retry.code, `${where}: ${retry.stderr}`).toBe(0);
      await rm(path);
      // MinIO lists multipart uploads only for an exact key, so each segment's key is asked for.
      orphans.push(...(await listOpenUploads(keyOf(prefix, i))));
    }

    // Gap-free: exactly the trial segments, one object each, and every one restores byte-identical.
    expect(await listKeys(`${prefix}/wal_005/`)).toEqual(Array.from({ length: TRIALS }, (_, i) => keyOf(prefix, i)).sort());
    const out = await scratchDir("crash-restore");
    for (let i = 0; i < TRIALS; i += 3) {
      await Promise.all(
        [i, i + 1, i + 2].filter((j) => j < TRIALS).map(async (j) => {
          const target = join(out, nameOf(j));
          const restored = await runTool("wal-restore", [nameOf(j), target], { env: baseEnv(minioEnv(prefix)) });
          expect(restored.code, restored.stderr).toBe(0);
          expect(sha256(await readFile(target))).toBe(hashes[j]);
          await rm(target);
        }),
      );
    }
    expect(outcomes["killed, nothing visible"] + outcomes["killed, complete object visible"]).toBe(TRIALS);
    record({
      scenario: "1 crash during upload",
      check: "kill -9 of wal-archive at seeded random points of its upload",
      outcome:
        "no partial object was ever visible; every retry exited 0; the archive holds exactly the trial segments and each restores byte-identical",
      figures: {
        seed: SEED,
        trials: TRIALS,
        ...Object.fromEntries(Object.entries(points).map(([at, count]) => [`killed ${at}`, count])),
        ...outcomes,
        "orphaned multipart uploads": orphans.length,
        "segment size (MiB)": 16,
        "part size (MiB)": 5,
      },
    });
    await lifecycleCoversOrphans(orphans.length);
  });
});

/** Lists keys once the server has settled: the same answer twice, 300 ms apart, and every listed key readable. */
async function settledListing(prefix: string): Promise<string[]> {
  let previous: string[] | undefined;
  for (let round = 0; round < 50; round++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const keys = await listKeys(prefix);
    const readable = await Promise.all(keys.map((key) => readStored(key).then(() => true, () => false)));
    if (readable.every(Boolean) && JSON.stringify(keys) === JSON.stringify(previous)) return keys;
    previous = keys;
  }
  throw new Error(`the listing under ${prefix} did not settle`);
}

/** The segment bytes an object holds: lz4 objects are decoded (a cut frame fails to decode, which fails the test). */
async function decoded(i: number, body: Buffer): Promise<Buffer> {
  if (codecOf(i) === "none") return body;
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.from([body]).pipe(lz4Codec.decompress())) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Runs `wal-native init` on the prefix and records whether the bucket now has an abort-multipart rule for it. */
async function lifecycleCoversOrphans(orphans: number): Promise<void> {
  const init = await runTool("wal-native", ["init", "--no-versioning"], { env: baseEnv(minioEnv(prefix)) });
  expect(init.code, init.stderr).toBe(0);
  const rules = (await s3().send(new GetBucketLifecycleConfigurationCommand({ Bucket: minioInfo().bucket })).catch(() => undefined))?.Rules ?? [];
  const abortRule = rules.find((rule) => rule.AbortIncompleteMultipartUpload && `${prefix}/`.startsWith(rule.Filter?.Prefix ?? rule.Prefix ?? ""));
  const refused = /refused the abort-incomplete-multipart-upload rule/.test(init.stdout + init.stderr);
  // Either the rule is in place for our prefix, or init said plainly that the storage refused it.
  expect(abortRule !== undefined || refused).toBe(true);
  record({
    scenario: "1 crash during upload",
    check: "wal-native init and orphaned multipart uploads",
    outcome: abortRule
      ? `init applied an AbortIncompleteMultipartUpload rule (${abortRule.AbortIncompleteMultipartUpload?.DaysAfterInitiation} d) covering the prefix`
      : "MinIO refused the AbortIncompleteMultipartUpload rule and init reported it; MinIO removes stale uploads itself after MINIO_API_STALE_UPLOADS_EXPIRY (24 h by default)",
    figures: { "orphaned multipart uploads": orphans, "rules on the bucket": rules.length, "init exit": init.code },
  });
}
