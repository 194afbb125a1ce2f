// The benchmark's own MinIO on loopback (started and stopped here, separate from the test suite's), and
// the S3 calls the benchmark needs: create the bucket, count the objects under a prefix.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { onCleanup } from "./cleanup.mjs";
import { freePort } from "./pg.mjs";
import { sleepSync } from "./proc.mjs";

const ACCESS_KEY = "walnative-bench";
const SECRET_KEY = "walnative-bench-secret";
export const BUCKET = "wal-native-bench";

export function findMinio() {
  for (const candidate of [process.env.MINIO_BINARY, join(homedir(), "go", "bin", "minio"), "/usr/local/bin/minio"]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  throw new Error("minio not found: run bash scripts/setup-test-tools.sh");
}

/** Starts MinIO with data in stateDir; resolves { endpoint, port, pid } once it serves the bucket. */
export async function startMinio(stateDir, markerEnv) {
  const port = await freePort();
  const consolePort = await freePort();
  mkdirSync(join(stateDir, "data"), { recursive: true });
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
  const minio = { endpoint: `http://127.0.0.1:${port}`, port, pid, stop: stopNow };
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
    try {
      if ((await fetch(`${minio.endpoint}/minio/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`minio not ready at ${minio.endpoint} after 60 s`);
}

/** Environment for wal-g and our tools to use s3://bucket/<prefix> at `endpoint`. */
export function s3Env(endpoint, prefix) {
  return {
    AWS_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    AWS_REGION: "us-east-1", AWS_S3_FORCE_PATH_STYLE: "true", WALG_S3_PREFIX: `s3://${BUCKET}/${prefix}`,
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

async function withClient(endpoint, use) {
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, maxAttempts: 5,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });
  try {
    return await use(s3);
  } finally {
    s3.destroy();
  }
}
