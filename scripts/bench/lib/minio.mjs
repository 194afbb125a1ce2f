// The benchmark's own MinIO on loopback (started and stopped here, separate from the test suite's), serving
// https with the run's self-signed certificate (lib/tls.mjs), and the S3 calls the benchmark needs: create
// the bucket, list the objects under a prefix.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { onCleanup } from "./cleanup.mjs";
import { freePort } from "./pg.mjs";
import { sleepSync } from "./proc.mjs";

export const ACCESS_KEY = "walnative-bench";
export const SECRET_KEY = "walnative-bench-secret";
export const BUCKET = "wal-native-bench";
/** The run's certificate ({ caFile, ca }), set by the first startMinio: one certificate serves every MinIO of a run. */
let tls;

export function findMinio() {
  for (const candidate of [process.env.MINIO_BINARY, join(homedir(), "go", "bin", "minio"), "/usr/local/bin/minio"]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  throw new Error("minio not found: run bash scripts/setup-test-tools.sh");
}

/**
 * Starts MinIO with data in stateDir, serving https with `certificate` (lib/tls.mjs makeCertificate); resolves
 * { endpoint, port, pid } once it serves the bucket.
 */
export async function startMinio(stateDir, markerEnv, certificate) {
  tls ??= certificate;
  const port = await freePort();
  const consolePort = await freePort();
  mkdirSync(join(stateDir, "data"), { recursive: true });
  mkdirSync(join(stateDir, "certs"), { recursive: true });
  copyFileSync(join(certificate.certsDir, "public.crt"), join(stateDir, "certs", "public.crt"));
  copyFileSync(join(certificate.certsDir, "private.key"), join(stateDir, "certs", "private.key"));
  const logFd = openSync(join(stateDir, "minio.log"), "a");
  const child = spawn(findMinio(), ["server", join(stateDir, "data"), "--address", `127.0.0.1:${port}`,
    "--console-address", `127.0.0.1:${consolePort}`, "--certs-dir", join(stateDir, "certs")], {
    detached: true, stdio: ["ignore", logFd, logFd],
    env: { PATH: "/usr/bin:/bin", HOME: stateDir, MINIO_ROOT_USER: ACCESS_KEY, MINIO_ROOT_PASSWORD: SECRET_KEY,
      MINIO_UPDATE: "off", ...markerEnv },
  });
  closeSync(logFd);
  let exited;
  child.once("exit", (code, signal) => { exited = `minio exited (code ${code}, signal ${signal})`; });
  child.unref();
  const pid = child.pid;
  const stopNow = onCleanup("stop minio", () => killSync(pid));
  const minio = { endpoint: `https://127.0.0.1:${port}`, port, pid, stop: stopNow };
  await waitReady(minio, () => exited, join(stateDir, "minio.log"));
  await withClient(minio.endpoint, (s3) => s3.send(new CreateBucketCommand({ Bucket: BUCKET })));
  return minio;
}

function killSync(pid) {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    sleepSync(100);
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  process.kill(pid, "SIGKILL");
}

async function waitReady(minio, exited, logFile) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`${exited()}\n${readFileSync(logFile, "utf8").slice(-2000)}`);
    if (await healthy(minio.endpoint)) return;
    await sleep(100);
  }
  throw new Error(`minio not ready at ${minio.endpoint} after 60 s`);
}

function healthy(endpoint) {
  return new Promise((resolveHealth) => {
    const req = request(`${endpoint}/minio/health/ready`, { ca: tls.ca, timeout: 2000 }, (res) => {
      res.resume();
      resolveHealth(res.statusCode === 200);
    });
    req.once("error", () => resolveHealth(false));
    req.once("timeout", () => req.destroy());
    req.end();
  });
}

/** The run's CA file (the certificate itself), for the tools' settings. */
export function caFile() {
  return tls?.caFile;
}

/** Environment for wal-g and our tools to use s3://bucket/<prefix> at `endpoint`. */
export function s3Env(endpoint, prefix) {
  return {
    AWS_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    AWS_REGION: "us-east-1", AWS_S3_FORCE_PATH_STYLE: "true", WALG_S3_PREFIX: `s3://${BUCKET}/${prefix}`,
    ...(endpoint.startsWith("https:") ? { WALG_S3_CA_CERT_FILE: tls.caFile } : {}),
  };
}

/** Keys under `prefix` (sorted). */
export async function listKeys(endpoint, prefix) {
  return withClient(endpoint, async (s3) => {
    const keys = [];
    let token;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  });
}

/** Deletes every object under `prefix` (runs whose objects are not read again would only fill the disk). */
export async function removePrefix(endpoint, prefix) {
  const keys = await listKeys(endpoint, `${prefix}/`);
  await withClient(endpoint, async (s3) => {
    for (let i = 0; i < keys.length; i += 1000) {
      await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
    }
  });
}

async function withClient(endpoint, use) {
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, maxAttempts: 5,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    requestHandler: { httpsAgent: new Agent({ ca: tls?.ca }) } });
  try {
    return await use(s3);
  } finally {
    s3.destroy();
  }
}
