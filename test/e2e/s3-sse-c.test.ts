// SSE-C (WALG_S3_SSE_C with WALG_S3_SSE=AES256) on a MinIO of this file's own behind TLS (MinIO refuses customer
// keys over http): both S3 clients, single PUT and multipart, HEAD and GET need the key, the wrong key or none
// aborts a restore without leaving a file; and wal-g reads our objects and we read its, where wal-g is installed.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeWorkDir } from "../support/postgres.js";
import { runBin } from "../support/run-command.js";
import { type TlsMinio, startTlsMinio, stopTlsMinio } from "../support/tls-minio.js";
import { MiB, makeSegment } from "../support/wal.js";
import { findWalg, runWalg, walgVersion } from "../support/walg.js";

const BUCKET = "sse-c";
const KEY = "wal-native-sse-c-test-key-32byte";
const OTHER_KEY = "another-sse-c-key-of-32-bytes!!!";
const SMALL = "000000010000000000000021";
const LARGE = "000000010000000000000022";

let minio: TlsMinio;
let work: string;
const segments = new Map<string, Buffer>();

beforeAll(async () => {
  work = await makeWorkDir("sse-c");
  minio = await startTlsMinio(join(work, "minio"), { bucket: BUCKET, access: "walnative-ssec", secret: "walnative-ssec-secret" });
  segments.set(SMALL, makeSegment(SMALL, { segmentSize: MiB }));
  // Random throughout: with WALG_COMPRESSION_METHOD=none it stays 16 MiB, more than three 5 MiB parts.
  segments.set(LARGE, makeSegment(LARGE, { segmentSize: 16 * MiB, payload: 16 * MiB - 64 }));
  for (const [name, bytes] of segments) await writeFile(join(work, name), bytes);
}, 120_000);

afterAll(() => stopTlsMinio(minio));

function env(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ENDPOINT: minio.endpoint,
    AWS_ACCESS_KEY_ID: minio.access,
    AWS_SECRET_ACCESS_KEY: minio.secret,
    AWS_REGION: "us-east-1",
    AWS_S3_FORCE_PATH_STYLE: "true",
    WALG_S3_PREFIX: `s3://${BUCKET}/${prefix}`,
    WALG_S3_CA_CERT_FILE: minio.caFile,
    WALG_S3_SSE: "AES256",
    WALG_S3_SSE_C: KEY,
    WALG_S3_MAX_RETRIES: "1",
    WALNATIVE_RESTORE_RETRY_SECONDS: "1",
    WALNATIVE_LOCAL_ARCHIVE: "",
    WALNATIVE_ARCHIVE_LOG: "",
    WALNATIVE_RESTORE_LOG: "",
    WALG_DOWNLOAD_CONCURRENCY: "1",
    ...extra,
  };
}

async function restoreInto(name: string, settings: Record<string, string>) {
  const out = await mkdtemp(join(work, "out-"));
  const result = await runBin("wal-restore", [name, join(out, "RESTORED")], { cwd: work, env: settings });
  return { ...result, out, file: join(out, "RESTORED") };
}

function head(key: string, sseKey?: string) {
  const fields = sseKey
    ? { SSECustomerAlgorithm: "AES256", SSECustomerKey: Buffer.from(sseKey).toString("base64"), SSECustomerKeyMD5: undefined }
    : {};
  return minio.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, ...fields }));
}

describe.each(["lite", "sdk"])("SSE-C with the %s S3 client", (client) => {
  it.each([
    { name: SMALL, method: "lz4", suffix: ".lz4", parts: "one PUT" },
    { name: LARGE, method: "none", suffix: "", parts: "multipart (5 MiB parts)" },
  ])("archives and restores $name by $parts, and the object needs the key", async ({ name, method, suffix }) => {
    const settings = env(`${client}-${method}`, { WALNATIVE_S3_CLIENT: client, WALG_COMPRESSION_METHOD: method, WALG_S3_MAX_PART_SIZE: String(5 * MiB) });
    const pushed = await runBin("wal-archive", [join(work, name), name], { cwd: work, env: settings });
    expect(pushed.code, pushed.stderr).toBe(0);
    const key = `${client}-${method}/wal_005/${name}${suffix}`;
    // Without the key MinIO will not even say what the object is; with it, it reports the customer key's MD5.
    await expect(head(key)).rejects.toThrow();
    const described = await head(key, KEY);
    expect(described.SSECustomerAlgorithm).toBe("AES256");
    expect(described.SSECustomerKeyMD5).toBe((await import("node:crypto")).createHash("md5").update(KEY).digest("base64"));
    const restored = await restoreInto(name, settings);
    expect(restored.code, restored.stderr).toBe(0);
    expect((await readFile(restored.file)).equals(segments.get(name)!)).toBe(true);
  });

  it.each([
    ["another key", { WALG_S3_SSE_C: OTHER_KEY }, /hint: WALG_S3_SSE_C must be the customer key the object was stored with/],
    ["no key", { WALG_S3_SSE_C: "", WALG_S3_SSE: "" }, /hint: the object may be stored with SSE-C: set WALG_S3_SSE=AES256 and WALG_S3_SSE_C/],
  ])("with %s a restore aborts the recovery (exit 200), says why and leaves no file", async (_label, change, hint) => {
    const settings = env(`${client}-lz4`, { WALNATIVE_S3_CLIENT: client, ...change });
    const restored = await restoreInto(SMALL, settings);
    expect(restored.code, restored.stderr).toBe(200);
    expect(restored.stderr).toMatch(/cannot read 'wal_005\/000000010000000000000021\.lz4'/);
    expect(restored.stderr).toMatch(hint);
    expect(await readdir(restored.out)).toEqual([]);
  });
});

const WALG = findWalg();

describe.skipIf(!WALG)(`SSE-C interop with wal-g${WALG ? "" : " (skipped: no wal-g binary; set WALG_BIN)"}`, () => {
  const walg = (prefix: string) => {
    const settings = env(prefix);
    // wal-g reads the same variables; WALNATIVE_* are ours only.
    return Object.fromEntries(Object.entries(settings).filter(([name]) => !name.startsWith("WALNATIVE_")));
  };

  beforeAll(async () => {
    expect(await walgVersion()).toMatch(/^wal-g version v3\.0\.9\b/);
  });

  it("wal-g wal-fetch reads what wal-archive stored with SSE-C", async () => {
    const prefix = `ours-${randomBytes(3).toString("hex")}`;
    const pushed = await runBin("wal-archive", [join(work, SMALL), SMALL], { cwd: work, env: env(prefix) });
    expect(pushed.code, pushed.stderr).toBe(0);
    const out = await mkdtemp(join(work, "walg-out-"));
    const fetched = await runWalg(["wal-fetch", SMALL, join(out, SMALL)], walg(prefix));
    expect(fetched.code, fetched.stderr).toBe(0);
    expect((await readFile(join(out, SMALL))).equals(segments.get(SMALL)!)).toBe(true);
  });

  it("wal-restore reads what wal-g wal-push stored with SSE-C", async () => {
    const prefix = `walg-${randomBytes(3).toString("hex")}`;
    const pushed = await runWalg(["wal-push", join(work, SMALL)], walg(prefix));
    expect(pushed.code, pushed.stderr).toBe(0);
    await expect(head(`${prefix}/wal_005/${SMALL}.lz4`)).rejects.toThrow();
    const restored = await restoreInto(SMALL, env(prefix));
    expect(restored.code, restored.stderr).toBe(0);
    expect((await readFile(restored.file)).equals(segments.get(SMALL)!)).toBe(true);
  });
});
