// Security (issue 6, item 9): TLS to a second MinIO whose certificate comes from a self-signed CA given
// through WALG_S3_CA_CERT_FILE, and server-side encryption (WALG_S3_SSE=AES256) with MinIO's built-in KMS.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import { Agent } from "node:https";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/minio-server.js";
import { findTool } from "../support/tools.js";
import { MiB, makeSegment } from "../support/wal.js";
import { record } from "./results.js";
import { baseEnv, runTool, scratchDir } from "./tools.js";

const NAME = "000000010000000000000031";
const ACCESS = "walnative-tls";
const SECRET = "walnative-tls-secret";
const BUCKET = "tls-test";

interface TlsMinio {
  readonly endpoint: string;
  readonly caFile: string;
  readonly client: S3Client;
  readonly child: ChildProcess;
  readonly logFile: string;
}

let minio: TlsMinio;
let work: string;

/** A CA and a server certificate for the IP 127.0.0.1, made with openssl. */
function makeCertificates(dir: string): void {
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=wal-native test CA"]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "certs/private.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  execFileSync("sh", ["-c", "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf"], { cwd: dir });
  run(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "certs/public.crt", "-days", "2", "-extfile", "ext.cnf"]);
}

async function startTlsMinio(dir: string): Promise<TlsMinio> {
  const binary = findTool("minio");
  if (!binary) throw new Error("minio not found: run bash scripts/setup-test-tools.sh");
  await mkdir(join(dir, "certs"), { recursive: true });
  makeCertificates(dir);
  const port = await freePort();
  const logFile = join(dir, "minio.log");
  const log = await open(logFile, "a");
  const child = spawn(
    binary,
    ["server", join(dir, "data"), "--address", `127.0.0.1:${port}`, "--console-address", `127.0.0.1:${await freePort()}`, "--certs-dir", join(dir, "certs")],
    {
      stdio: ["ignore", log.fd, log.fd],
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: dir,
        MINIO_ROOT_USER: ACCESS,
        MINIO_ROOT_PASSWORD: SECRET,
        MINIO_UPDATE: "off",
        // SSE-S3 needs a KMS; a static key is MinIO's single-key KMS for tests.
        MINIO_KMS_SECRET_KEY: `wal-native-key:${randomBytes(32).toString("base64")}`,
      },
    },
  );
  await log.close();
  const caFile = join(dir, "ca.crt");
  const client = new S3Client({
    endpoint: `https://127.0.0.1:${port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS, secretAccessKey: SECRET },
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: await readFile(caFile) }) }),
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`TLS MinIO did not start: ${String(error)}\n${await readFile(logFile, "utf8")}`);
      }
      await sleep(200);
    }
  }
  return { endpoint: `https://127.0.0.1:${port}`, caFile, client, child, logFile };
}

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
  minio = await startTlsMinio(join(work, "minio"));
  await writeFile(join(work, NAME), makeSegment(NAME, { segmentSize: MiB }));
}, 120_000);

afterAll(async () => {
  minio?.client.destroy();
  if (minio && minio.child.exitCode === null) {
    minio.child.kill("SIGTERM");
    await new Promise((resolve) => minio.child.once("exit", resolve));
  }
});

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
