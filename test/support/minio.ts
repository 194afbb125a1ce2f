// Test-side helpers for the shared MinIO started by global-setup.ts: env for our tools, object
// access, and stopping/restarting the same server (same port and data dir) for outage tests.
import { randomBytes } from "node:crypto";
import {
  GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client,
} from "@aws-sdk/client-s3";
import { inject } from "vitest";
import { killMinio, minioRunning, s3ClientFor, spawnMinio, type MinioInfo } from "./minio-server.js";

export type { MinioInfo } from "./minio-server.js";

/** Connection info of the run's MinIO; throws outside the e2e project (no global setup there). */
export function minioInfo(): MinioInfo {
  const info = inject("minio");
  if (info === undefined) throw new Error("no MinIO provided: run this test in the e2e vitest project");
  return info;
}

/** A key prefix no other test uses, e.g. "t-m3x1k2-9f3a1c". */
export function uniquePrefix(label = "t"): string {
  return `${label}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

/** Environment for wal-archive/wal-restore (and wal-g) storing under s3://<bucket>/<prefix>. */
export function minioEnv(prefix: string): Record<string, string> {
  const info = minioInfo();
  return {
    AWS_ENDPOINT: info.endpoint,
    AWS_ACCESS_KEY_ID: info.accessKey,
    AWS_SECRET_ACCESS_KEY: info.secretKey,
    AWS_REGION: info.region,
    AWS_S3_FORCE_PATH_STYLE: "true",
    WALG_S3_PREFIX: `s3://${info.bucket}/${prefix}`,
  };
}

let client: S3Client | undefined;
function s3(): S3Client {
  client ??= s3ClientFor(minioInfo());
  return client;
}

/** All keys in the test bucket starting with `prefix`, sorted. */
export async function listKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3().send(new ListObjectsV2Command({
      Bucket: minioInfo().bucket, Prefix: prefix, ContinuationToken: token,
    }));
    for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys.sort();
}

/** The object's bytes; throws (NoSuchKey) when absent. */
export async function getObject(key: string): Promise<Buffer> {
  const out = await s3().send(new GetObjectCommand({ Bucket: minioInfo().bucket, Key: key }));
  if (out.Body === undefined) throw new Error(`empty body for ${key}`);
  return Buffer.from(await out.Body.transformToByteArray());
}

export async function putObject(key: string, body: Buffer | string): Promise<void> {
  await s3().send(new PutObjectCommand({ Bucket: minioInfo().bucket, Key: key, Body: body }));
}

/**
 * Stops the shared server (SIGTERM; its pid lives in info.pidFile, so any worker can do this).
 * Always pair with startMinio() in a finally block: later test files expect it running.
 */
export async function stopMinio(): Promise<void> {
  await killMinio(minioInfo());
}

/**
 * Restarts the server on the same port and data dir; resolves once it serves S3 requests again.
 * A no-op while it runs: a second server could not bind the port, yet would take over the pid
 * file, and the next stopMinio() would then stop nothing.
 */
export async function startMinio(): Promise<void> {
  if (await minioRunning(minioInfo())) return;
  await spawnMinio(minioInfo());
}
