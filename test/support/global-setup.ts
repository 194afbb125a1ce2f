// e2e global setup: one MinIO for the whole run, provided to tests via inject("minio"); teardown
// also stops any PostgreSQL cluster a crashed test file left behind.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import {
  createBucket, freePort, killMinio, MINIO_HINT, spawnMinio, type MinioInfo,
} from "./minio-server.js";
import { ensureTraversable, MINIO_DIR_PREFIX, REPO_ROOT, WORK_DIR_PREFIX } from "./paths.js";
import { findTool, PG_BIN } from "./tools.js";

export const TEST_BUCKET = "wal-native-test";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binary = findTool("minio");
  if (binary === undefined) throw new Error(`minio not found: ${MINIO_HINT}`);
  await ensureTraversable(REPO_ROOT);

  const runId = randomBytes(4).toString("hex");
  const stateDir = `${MINIO_DIR_PREFIX}${runId}`;
  const info: MinioInfo = {
    binary,
    port: 0,
    consolePort: 0,
    endpoint: "",
    accessKey: "walnative-test",
    secretKey: "walnative-test-secret",
    region: "us-east-1",
    bucket: TEST_BUCKET,
    stateDir,
    dataDir: join(stateDir, "data"),
    pidFile: join(stateDir, "minio.pid"),
    logFile: join(stateDir, "minio.log"),
  };
  info.port = await freePort();
  info.consolePort = await freePort();
  info.endpoint = `http://127.0.0.1:${info.port}`;

  const started = Date.now();
  await spawnMinio(info);
  await createBucket(info);
  console.log(`[global-setup] minio ${info.endpoint} ready in ${Date.now() - started} ms (${stateDir})`);

  project.provide("minio", info);
  project.provide("runId", runId);
  // Also as env vars, for code that cannot call inject (workers are forked after this runs).
  Object.assign(process.env, {
    WALNATIVE_TEST_RUN_ID: runId,
    WALNATIVE_TEST_S3_ENDPOINT: info.endpoint,
    WALNATIVE_TEST_ACCESS_KEY: info.accessKey,
    WALNATIVE_TEST_SECRET_KEY: info.secretKey,
    WALNATIVE_TEST_BUCKET: info.bucket,
  });

  return async () => {
    await stopLeftoverClusters(runId);
    await killMinio(info);
    await rm(stateDir, { recursive: true, force: true });
  };
}

/** Safety net: test files clean up in afterAll, but a crashed worker can leave postmasters running. */
async function stopLeftoverClusters(runId: string): Promise<void> {
  const prefix = `${WORK_DIR_PREFIX}${runId}-`;
  const dirs = (await readdir("/tmp")).map((d) => join("/tmp", d)).filter((d) => d.startsWith(prefix));
  for (const dir of dirs) {
    for (const pidFile of await findPostmasterPids(dir, 3)) {
      const dataDir = join(pidFile, "..");
      await promisify(execFile)("runuser", ["-u", "postgres", "--",
        join(PG_BIN, "pg_ctl"), "-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    }
    if (process.env["WALNATIVE_TEST_KEEP"] !== "1") await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

async function findPostmasterPids(dir: string, depth: number): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name === "postmaster.pid" && (await readFile(path, "utf8").catch(() => ""))) {
      found.push(path);
    } else if (entry.isDirectory() && depth > 0) {
      found.push(...(await findPostmasterPids(path, depth - 1)));
    }
  }
  return found;
}
