// Faulty storage: a proxy between the tools and MinIO answers 500 and 503 SlowDown, resets
// connections, stalls and truncates bodies and lies about Content-Length. Retries stay within the configured
// bounds, an error is never taken as success, a bad body never becomes a restored file, every call ends in time.
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FaultProxy, type FaultAction } from "../support/fault-proxy.js";
import { listKeys, minioEnv, minioInfo, uniquePrefix } from "../support/minio.js";
import { MiB, makeSegment } from "../support/wal.js";
import { record } from "./results.js";
import { baseEnv, listDir, listOpenUploads, readStored, runTool, scratchDir } from "./tools.js";

const NAME = "000000010000000000000007";
const BIG = "000000010000000000000008";
const ABORT = 200;
const MAX_RETRIES = 2;
const TIMEOUT_S = 2;
const RESTORE_RETRY_S = 6;

let proxy: FaultProxy;
let prefix: string;
let work: string;
const segment = makeSegment(NAME, { segmentSize: MiB, payload: 300_000 });
const objectPath = new RegExp(`/wal_005/${NAME}`);

function env(extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({
    ...minioEnv(prefix),
    AWS_ENDPOINT: proxy.endpoint,
    WALG_S3_MAX_RETRIES: String(MAX_RETRIES),
    WALNATIVE_S3_TIMEOUT_SECONDS: String(TIMEOUT_S),
    WALNATIVE_RESTORE_RETRY_SECONDS: String(RESTORE_RETRY_S),
    ...extra,
  });
}

/**
 * The longest a restore may take: retries start until the deadline, and the last attempt can use every SDK
 * attempt's timeout plus its backoff (at most 20 s by the SDK, usually far less), plus process start-up.
 */
function restoreBound(maxRetries = MAX_RETRIES): number {
  return (RESTORE_RETRY_S + (maxRetries + 1) * (TIMEOUT_S + 3) + 10) * 1000;
}

async function restore(extra: Record<string, string> = {}) {
  const dir = await scratchDir("proxy-restore");
  const target = join(dir, "RECOVERYXLOG");
  const result = await runTool("wal-restore", [NAME, target], { env: env(extra), timeoutMs: 120_000 });
  const left = await listDir(dir);
  const restored = left.includes("RECOVERYXLOG") ? await readFile(target) : undefined;
  return { ...result, left, restored, gets: proxy.requests({ method: "GET", path: objectPath }).length };
}

beforeAll(async () => {
  proxy = await FaultProxy.start(minioInfo().endpoint);
  prefix = uniquePrefix("proxy");
  work = await scratchDir("proxy");
  await writeFile(join(work, NAME), segment);
  const first = await runTool("wal-archive", [join(work, NAME), NAME], { env: env() });
  expect(first.code, first.stderr).toBe(0);
});
afterEach(() => proxy.reset());
afterAll(async () => proxy?.close());

describe("restore through a faulty connection", () => {
  const transientOnce: [string, FaultAction, number][] = [
    ["503 SlowDown twice", { kind: "status", status: 503, code: "SlowDown" }, 2],
    ["500 InternalError twice", { kind: "status", status: 500, code: "InternalError" }, 2],
    ["a connection reset", { kind: "reset" }, 1],
    ["a body cut after 1000 bytes", { kind: "truncate", afterBytes: 1000 }, 1],
    ["a Content-Length 100 bytes short", { kind: "content-length", delta: -100 }, 1],
    ["a Content-Length 100 bytes long", { kind: "content-length", delta: 100 }, 1],
    ["a body that stalls after 1000 bytes", { kind: "stall-body", afterBytes: 1000 }, 1],
    ["a request that is never answered", { kind: "stall" }, 1],
  ];

  it.each(transientOnce)("recovers from %s: the retry restores the exact file", async (label, action, times) => {
    proxy.inject({ method: "GET", path: objectPath, times, action });
    const result = await restore();
    expect(result.code, result.stderr).toBe(0);
    expect(result.restored?.equals(segment)).toBe(true);
    expect(result.left).toEqual(["RECOVERYXLOG"]);
    expect(result.gets).toBe(times + 1);
    expect(result.ms).toBeLessThan(restoreBound());
    record({
      scenario: "4 faulty connection",
      check: `restore after ${label}`,
      outcome: "retried and restored the byte-identical file",
      figures: { "faulty answers": times, "GETs seen by the proxy": result.gets, "seconds": result.ms / 1000 },
    });
  });

  // With static keys the calls above use the lite S3 client (storage/s3-lite.ts); the SDK client, used
  // without static keys, must keep recovering from the same faults.
  it.each(transientOnce.filter(([label]) => /503|reset|cut|stalls|never answered/.test(label)))(
    "with WALNATIVE_S3_CLIENT=sdk, recovers from %s",
    async (_label, action, times) => {
      proxy.inject({ method: "GET", path: objectPath, times, action });
      const result = await restore({ WALNATIVE_S3_CLIENT: "sdk" });
      expect(result.code, result.stderr).toBe(0);
      expect(result.restored?.equals(segment)).toBe(true);
      expect(result.gets).toBe(times + 1);
      expect(result.ms).toBeLessThan(restoreBound());
    },
  );

  const persistent: [string, FaultAction][] = [
    ["503 SlowDown", { kind: "status", status: 503, code: "SlowDown" }],
    ["500 InternalError", { kind: "status", status: 500, code: "InternalError" }],
    ["connection resets", { kind: "reset" }],
    ["bodies cut after 1000 bytes", { kind: "truncate", afterBytes: 1000 }],
    ["a Content-Length 100 bytes short", { kind: "content-length", delta: -100 }],
    ["bodies that stall", { kind: "stall-body", afterBytes: 1000 }],
  ];

  it.each(persistent)("gives up on persistent %s within the deadline, exits 200 and writes nothing", async (label, action) => {
    proxy.inject({ method: "GET", path: objectPath, action });
    const result = await restore();
    expect(result.code, result.stderr).toBe(ABORT);
    expect(result.left).toEqual([]);
    expect(result.ms).toBeLessThan(restoreBound());
    expect(result.gets).toBeGreaterThanOrEqual(2);
    // Every fetch attempt makes at most MAX_RETRIES + 1 requests; attempts start every >= 125 ms until the deadline.
    expect(result.gets).toBeLessThanOrEqual((MAX_RETRIES + 1) * Math.ceil((RESTORE_RETRY_S * 1000) / 125 + 1));
    record({
      scenario: "4 faulty connection",
      check: `restore under persistent ${label}`,
      outcome: "exit 200 (abort recovery) within the deadline, %p never created",
      figures: {
        "GETs seen by the proxy": result.gets,
        seconds: result.ms / 1000,
        "bound (s)": restoreBound() / 1000,
        WALG_S3_MAX_RETRIES: MAX_RETRIES,
        WALNATIVE_RESTORE_RETRY_SECONDS: RESTORE_RETRY_S,
        WALNATIVE_S3_TIMEOUT_SECONDS: TIMEOUT_S,
      },
    });
  });

  it("backs off between attempts: each fetch attempt waits at least half its nominal delay", async () => {
    proxy.inject({ method: "GET", path: objectPath, action: { kind: "status", status: 503, code: "SlowDown" } });
    const result = await restore({ WALG_S3_MAX_RETRIES: "0" });
    expect(result.code).toBe(ABORT);
    const times = proxy.requests({ method: "GET", path: objectPath }).map((entry) => entry.at);
    const gaps = times.slice(1).map((at, i) => at - (times[i] ?? 0));
    expect(gaps.length).toBeGreaterThanOrEqual(3);
    // withRetry: delay 250 ms doubling to 5 s, each wait between half and all of it (io/retry.ts); only the
    // last wait may be cut short by the deadline.
    gaps.slice(0, -1).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(Math.min(250 * 2 ** i, 5000) / 2 - 5));
    record({
      scenario: "4 faulty connection",
      check: "backoff between restore attempts (503 on every GET, no SDK retries)",
      outcome: "attempts spread out with exponential backoff until the deadline",
      figures: { attempts: times.length, "gaps (ms)": gaps.join(", ") },
    });
  });
});

describe("archive through a faulty connection", () => {
  it.each([
    ["000000010000000000000009", "lite"],
    ["00000001000000000000000D", "sdk"],
  ])("never takes a 503 SlowDown for success: exit 75 after exactly WALG_S3_MAX_RETRIES + 1 PUTs, nothing stored (%s, %s client)", async (name, client) => {
    await writeFile(join(work, name), makeSegment(name, { segmentSize: MiB }));
    proxy.inject({ method: "PUT", path: new RegExp(`/wal_005/${name}`), action: { kind: "status", status: 503, code: "SlowDown" } });
    const result = await runTool("wal-archive", [join(work, name), name], { env: env({ WALNATIVE_S3_CLIENT: client }), timeoutMs: 120_000 });
    const puts = proxy.requests({ method: "PUT", path: new RegExp(`/wal_005/${name}`) });
    expect(result.code, result.stderr).toBe(75);
    expect(result.stderr).toMatch(/SlowDown/);
    expect(puts.length).toBe(MAX_RETRIES + 1);
    expect(await listKeys(`${prefix}/wal_005/${name}`)).toEqual([]);
    record({
      scenario: "4 faulty connection",
      check: `archive under persistent 503 SlowDown (${client} S3 client)`,
      outcome: "exit 75, nothing stored; PostgreSQL keeps the file and retries",
      figures: { "PUTs seen by the proxy": puts.length, WALG_S3_MAX_RETRIES: MAX_RETRIES, seconds: result.ms / 1000 },
    });
  });

  it("ends within its deadline when MinIO never answers an upload: exit 75, nothing stored", async () => {
    const name = "00000001000000000000000C";
    await writeFile(join(work, name), makeSegment(name, { segmentSize: MiB }));
    proxy.inject({ method: "PUT", path: new RegExp(`/wal_005/${name}`), action: { kind: "stall" } });
    const result = await runTool("wal-archive", [join(work, name), name], { env: env({ WALG_S3_MAX_RETRIES: "1" }), timeoutMs: 120_000 });
    const puts = proxy.requests({ method: "PUT", path: new RegExp(`/wal_005/${name}`) }).length;
    const bound = (2 * (TIMEOUT_S + 3) + 10) * 1000;
    expect(result.code, result.stderr).toBe(75);
    expect(puts).toBe(2);
    expect(result.ms).toBeLessThan(bound);
    expect(await listKeys(`${prefix}/wal_005/${name}`)).toEqual([]);
    record({
      scenario: "4 faulty connection",
      check: "archive when the PUT is never answered",
      outcome: "each attempt times out after WALNATIVE_S3_TIMEOUT_SECONDS of silence; exit 75 within the bound",
      figures: { "PUTs seen by the proxy": puts, seconds: result.ms / 1000, "bound (s)": bound / 1000, WALG_S3_MAX_RETRIES: 1 },
    });
  });

  it("takes an answer without an ETag for no confirmation, then a retry finds the stored copy equal", async () => {
    const name = "00000001000000000000000A";
    await writeFile(join(work, name), makeSegment(name, { segmentSize: MiB }));
    proxy.inject({ method: "PUT", path: new RegExp(`/wal_005/${name}`), action: { kind: "etag", etag: "" } });
    const first = await runTool("wal-archive", [join(work, name), name], { env: env() });
    expect(first.code).toBe(75);
    expect(first.stderr).toContain("was not confirmed (no ETag)");
    proxy.reset();
    const retry = await runTool("wal-archive", [join(work, name), name], { env: env() });
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stderr).toContain("equal content");
    record({
      scenario: "4 faulty connection",
      check: "archive answered without an ETag",
      outcome: "exit 75 (not confirmed); the retry finds MinIO's copy equal by its recorded checksum and exits 0",
      figures: { "first exit": first.code, "retry exit": retry.code },
    });
  });

  it("sends a damaged body again: the server checks it against the signed SHA-256 of the payload", async () => {
    const name = "00000001000000000000000C";
    const bytes = makeSegment(name, { segmentSize: MiB });
    await writeFile(join(work, name), bytes);
    proxy.inject({ method: "PUT", path: new RegExp(`/wal_005/${name}`), times: 1, action: { kind: "corrupt-request", at: 100 } });
    const result = await runTool("wal-archive", [join(work, name), name], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    const puts = proxy.requests({ method: "PUT", path: new RegExp(`/wal_005/${name}`) });
    const payloadHash = createHash("sha256").update((await readStored(`${prefix}/wal_005/${name}.lz4`)).body).digest("hex");
    expect(puts.map((p) => [p.fault, p.status, p.payloadHash])).toEqual([
      ["corrupt-request", 400, payloadHash],
      [undefined, 200, payloadHash],
    ]);
    const fetched = await runTool("wal-restore", [name, join(work, `${name}.back`)], { env: env() });
    expect(fetched.code, fetched.stderr).toBe(0);
    expect((await readFile(join(work, `${name}.back`))).equals(bytes)).toBe(true);
    // Left damaged on every attempt, the body is never stored: the call fails as a retryable error.
    const other = "00000001000000000000000D";
    await writeFile(join(work, other), makeSegment(other, { segmentSize: MiB }));
    proxy.inject({ method: "PUT", path: new RegExp(`/wal_005/${other}`), action: { kind: "corrupt-request", at: 100 } });
    const refused = await runTool("wal-archive", [join(work, other), other], { env: env() });
    expect(refused.code).toBe(75);
    expect(refused.stderr).toMatch(/the data arrived damaged: XAmzContentSHA256Mismatch \(HTTP 400\)/);
    expect(await listKeys(`${prefix}/wal_005/${other}`)).toEqual([]);
    record({
      scenario: "4 faulty connection",
      check: "archive whose body is damaged on the way to MinIO",
      outcome: "MinIO refuses it (XAmzContentSHA256Mismatch: the payload hash is signed); the retry stores the right bytes; damaged on every attempt: exit 75, nothing stored",
      figures: { "PUTs (damaged once)": puts.length, "exit when always damaged": refused.code },
    });
  });

  it("survives a lost acknowledgement: MinIO stored the object but the client saw 500", async () => {
    const name = "00000001000000000000000B";
    const bytes = makeSegment(name, { segmentSize: MiB });
    await writeFile(join(work, name), bytes);
    proxy.inject({ method: "PUT", path: new RegExp(`/wal_005/${name}`), times: 1, action: { kind: "status", status: 500, code: "InternalError", afterForward: true } });
    const result = await runTool("wal-archive", [join(work, name), name], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    const puts = proxy.requests({ method: "PUT", path: new RegExp(`/wal_005/${name}`) });
    expect(puts.length).toBeGreaterThanOrEqual(2);
    const stored = await readStored(`${prefix}/wal_005/${name}.lz4`);
    expect(stored.metadata["walnative-xxh64"]).toMatch(/^[0-9a-f]{16}$/);
    record({
      scenario: "4 faulty connection",
      check: "archive whose acknowledgement was lost (500 after MinIO stored it)",
      outcome: "the retried conditional PUT meets the stored object, which compares equal: exit 0",
      figures: { "PUTs seen by the proxy": puts.length, "answers": puts.map((p) => p.status).join(", ") },
    });
  });

  describe("multipart (16 MiB uncompressed, 5 MiB parts)", () => {
    const bigEnv = { WALG_COMPRESSION_METHOD: "none", WALG_S3_MAX_PART_SIZE: String(5 * MiB) };
    const bigPath = () => join(work, BIG);
    beforeAll(async () => writeFile(bigPath(), makeSegment(BIG, { payload: 12 * MiB })));

    it.each<[string, FaultAction, RegExp]>([
      ["503 on every part", { kind: "status", status: 503, code: "SlowDown" }, /partNumber=/],
      ["a reset on every part", { kind: "reset" }, /partNumber=/],
    ])("%s: exit 75, the upload is aborted, no object and no open upload", async (label, action, query) => {
      proxy.inject({ method: "PUT", path: new RegExp(`/wal_005/${BIG}`), query, action });
      const result = await runTool("wal-archive", [bigPath(), BIG], { env: env(bigEnv), timeoutMs: 120_000 });
      expect(result.code, result.stderr).toBe(75);
      expect(await listKeys(`${prefix}/wal_005/${BIG}`)).toEqual([]);
      expect(await listOpenUploads(`${prefix}/wal_005/${BIG}`)).toEqual([]);
      const parts = proxy.requests({ method: "PUT", path: new RegExp(`/wal_005/${BIG}`), query: /partNumber=/ }).length;
      const aborts = proxy.requests({ method: "DELETE", path: new RegExp(`/wal_005/${BIG}`), query: /uploadId=/ }).length;
      expect(aborts).toBe(1);
      record({
        scenario: "4 faulty connection",
        check: `multipart archive, ${label}`,
        outcome: "exit 75; the upload is aborted, nothing visible, no orphaned parts",
        figures: { "part requests": parts, "abort requests": aborts },
      });
    });

    it("a 200 answer carrying an S3 error for CompleteMultipartUpload is not success", async () => {
      proxy.inject({ method: "POST", path: new RegExp(`/wal_005/${BIG}`), query: /uploadId=/, action: { kind: "error-200", code: "InternalError" } });
      const result = await runTool("wal-archive", [bigPath(), BIG], { env: env({ ...bigEnv, WALG_S3_MAX_RETRIES: "0" }), timeoutMs: 120_000 });
      expect(result.code, result.stderr).toBe(75);
      expect(result.stderr).toContain("InternalError");
      expect(await listKeys(`${prefix}/wal_005/${BIG}`)).toEqual([]);
      expect(await listOpenUploads(`${prefix}/wal_005/${BIG}`)).toEqual([]);
      proxy.reset();
      const retry = await runTool("wal-archive", [bigPath(), BIG], { env: env(bigEnv) });
      expect(retry.code, retry.stderr).toBe(0);
      expect((await readStored(`${prefix}/wal_005/${BIG}`)).body.equals(await readFile(bigPath()))).toBe(true);
      record({
        scenario: "4 faulty connection",
        check: "multipart archive, CompleteMultipartUpload answered 200 with an error document",
        outcome: "exit 75 and the upload aborted; the next attempt stores the complete object",
        figures: { "first exit": result.code, "retry exit": retry.code },
      });
    });
  });
});
