// Security: TLS to a second MinIO whose certificate comes from a self-signed CA given
// through WALG_S3_CA_CERT_FILE, and server-side encryption (WALG_S3_SSE=AES256) with MinIO's built-in KMS.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TlsMinio, startTlsMinio, stopTlsMinio } from "../support/tls-minio.js";
import { MiB, makeSegment } from "../support/wal.js";
import { record } from "./results.js";
import { baseEnv, runTool, scratchDir } from "./tools.js";

const NAME = "000000010000000000000031";
const ACCESS = "walnative-tls";
const SECRET = "walnative-tls-secret";
const BUCKET = "tls-test";

let minio: TlsMinio;
let work: string;

function tlsEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({
    AWS_ENDPOINT: minio.endpoint,
    AWS_ACCESS_KEY_ID: ACCESS,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_REGION: "us-east-1",
    AWS_S3_FORCE_PATH_STYLE: "true",
    WALG_S3_PREFIX: `s3://${BUCKET}/${prefix}`,
    WALG_S3_CA_CERT_FILE: minio.caFile,
    WALG_S3_MAX_RETRIES: "1",
    WALNATIVE_RESTORE_RETRY_SECONDS: "1",
    ...extra,
  });
}

beforeAll(async () => {
  work = await scratchDir("tls");
  minio = await startTlsMinio(join(work, "minio"), { bucket: BUCKET, access: ACCESS, secret: SECRET });
  await writeFile(join(work, NAME), makeSegment(NAME, { segmentSize: MiB }));
}, 120_000);

afterAll(() => stopTlsMinio(minio));

describe("TLS with a self-signed CA", () => {
  // Both S3 clients read the CA file themselves: lite (the default with static keys) and the SDK.
  it.each(["lite", "sdk"])("archives and restores over https when WALG_S3_CA_CERT_FILE names the CA (%s client)", async (client) => {
    const env = tlsEnv(`tls-${client}`, { WALNATIVE_S3_CLIENT: client });
    const pushed = await runTool("wal-archive", [join(work, NAME), NAME], { env });
    expect(pushed.code, pushed.stderr).toBe(0);
    const out = await scratchDir("tls-out");
    const restored = await runTool("wal-restore", [NAME, join(out, "X")], { env });
    expect(restored.code, restored.stderr).toBe(0);
    expect((await readFile(join(out, "X"))).equals(await readFile(join(work, NAME)))).toBe(true);
    record({
      scenario: "9 security",
      check: `TLS with a self-signed CA (WALG_S3_CA_CERT_FILE, ${client} S3 client)`,
      outcome: "archive and restore over https to a MinIO whose certificate is signed by the test CA",
      figures: { "archive exit": pushed.code, "restore exit": restored.code },
    });
  });

  it("refuses the server without the CA: the certificate is verified, not ignored", async () => {
    const env = tlsEnv("tls-noca", { WALG_S3_CA_CERT_FILE: "" });
    const result = await runTool("wal-archive", [join(work, NAME), NAME], { env });
    expect(result.code).toBe(75);
    expect(result.stderr).toMatch(/self[- ]signed certificate|unable to verify|certificate/i);
    record({
      scenario: "9 security",
      check: "TLS without the CA",
      outcome: "exit 75 with a certificate error: verification is on",
      figures: { "exit code": result.code },
    });
  });
});

describe("server-side encryption", () => {
  it("stores objects with WALG_S3_SSE=AES256 and MinIO reports them encrypted", async () => {
    const prefix = "sse";
    const env = tlsEnv(prefix, { WALG_S3_SSE: "AES256" });
    const pushed = await runTool("wal-archive", [join(work, NAME), NAME], { env });
    expect(pushed.code, `${pushed.stderr}\n${(await readFile(minio.logFile, "utf8")).slice(-2000)}`).toBe(0);
    const head = await minio.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}/wal_005/${NAME}.lz4` }));
    expect(head.ServerSideEncryption).toBe("AES256");
    const out = await scratchDir("sse-out");
    const restored = await runTool("wal-restore", [NAME, join(out, "X")], { env });
    expect(restored.code, restored.stderr).toBe(0);
    expect((await readFile(join(out, "X"))).equals(await readFile(join(work, NAME)))).toBe(true);
    record({
      scenario: "9 security",
      check: "server-side encryption (WALG_S3_SSE=AES256)",
      outcome: `MinIO (static KMS key) accepted the header; HeadObject reports ServerSideEncryption=${head.ServerSideEncryption}; restore is byte-identical`,
      figures: { "archive exit": pushed.code, "restore exit": restored.code },
    });
  });
});
