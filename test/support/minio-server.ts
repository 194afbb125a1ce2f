// Starts and stops the shared MinIO test server; used by global setup and (via minio.ts) by tests.
// No vitest imports here: this module also runs in the main process.
import { spawn } from "node:child_process";
import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";

export const MINIO_HINT =
  "run bash scripts/setup-test-tools.sh (builds it with go install " +
  "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c into $HOME/go/bin)";

/** Everything needed to reach, stop and restart the shared server. Serializable (goes through inject). */
export interface MinioInfo {
  binary: string;
  endpoint: string; // http://127.0.0.1:<port>
  port: number;
  consolePort: number;
  accessKey: string;
  secretKey: string;
  region: string;
  bucket: string;
  stateDir: string; // holds data/, certs/, minio.pid, minio.log
  dataDir: string;
  pidFile: string;
  logFile: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    minio: MinioInfo;
    runId: string;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export function s3ClientFor(info: MinioInfo): S3Client {
  return new S3Client({
    endpoint: info.endpoint,
    region: info.region,
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKey, secretAccessKey: info.secretKey },
    maxAttempts: 3, // a keep-alive socket may be stale after a restart
  });
}

/** Spawns MinIO detached (so any process can stop it by pid) and waits until it serves S3 requests. */
export async function spawnMinio(info: MinioInfo): Promise<number> {
  await mkdir(info.dataDir, { recursive: true });
  const log = await open(info.logFile, "a");
  const child = spawn(
    info.binary,
    ["server", info.dataDir, "--address", `127.0.0.1:${info.port}`,
      "--console-address", `127.0.0.1:${info.consolePort}`, "--certs-dir", join(info.stateDir, "certs")],
    {
      detached: true,
      stdio: ["ignore", log.fd, log.fd],
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: info.stateDir,
        MINIO_ROOT_USER: info.accessKey,
        MINIO_ROOT_PASSWORD: info.secretKey,
        MINIO_UPDATE: "off",
      },
    },
  );
  await log.close();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${info.binary}`);
  let exited: string | undefined;
  child.once("exit", (code, signal) => { exited = `exited (code ${code}, signal ${signal})`; });
  child.unref();
  await writeFile(info.pidFile, `${pid}\n`);
  await waitForS3(info, () => exited);
  return pid;
}

async function waitForS3(info: MinioInfo, exited: () => string | undefined): Promise<void> {
  const client = s3ClientFor(info);
  const deadline = Date.now() + 60_000;
  let last: unknown;
  try {
    while (Date.now() < deadline) {
      const why = exited();
      if (why !== undefined) throw new Error(`minio ${why}\n${await logTail(info)}`);
      try {
        const live = await fetch(`${info.endpoint}/minio/health/live`);
        // The object layer can lag behind the HTTP listener; a bucket call proves S3 is served.
        if (live.ok) {
          await client.send(new HeadBucketCommand({ Bucket: info.bucket })).catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
          return;
        }
      } catch (err) {
        last = err;
      }
      await sleep(100);
    }
  } finally {
    client.destroy();
  }
  throw new Error(`minio not ready at ${info.endpoint} after 60 s: ${String(last)}\n${await logTail(info)}`);
}

function isNotFound(err: unknown): boolean {
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return meta?.httpStatusCode === 404;
}

export async function createBucket(info: MinioInfo): Promise<void> {
  const client = s3ClientFor(info);
  try {
    await client.send(new CreateBucketCommand({ Bucket: info.bucket }));
  } finally {
    client.destroy();
  }
}

/** Stops the server recorded in the pid file (SIGTERM, then SIGKILL after 10 s); no-op if none. */
export async function killMinio(info: MinioInfo): Promise<void> {
  const pid = await readPid(info.pidFile);
  if (pid === undefined) return;
  if (await isMinio(pid, info)) {
    process.kill(pid, "SIGTERM");
    if (!(await waitGone(pid, 10_000))) {
      process.kill(pid, "SIGKILL");
      await waitGone(pid, 10_000);
    }
  }
  await rm(info.pidFile, { force: true });
}

/** True when the server recorded in the pid file is alive. */
export async function minioRunning(info: MinioInfo): Promise<boolean> {
  const pid = await readPid(info.pidFile);
  return pid !== undefined && (await isMinio(pid, info));
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, "utf8").catch(() => "");
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** True while the pid is a live (non-zombie) minio serving this data dir; guards against pid reuse. */
async function isMinio(pid: number, info: MinioInfo): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && cmdline.includes(info.dataDir);
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return true;
    } catch {
      return true;
    }
    await sleep(50);
  }
  return false;
}

export async function logTail(info: MinioInfo, lines = 30): Promise<string> {
  const text = await readFile(info.logFile, "utf8").catch(() => "");
  return `--- last lines of ${info.logFile} ---\n${text.split("\n").slice(-lines).join("\n")}`;
}
