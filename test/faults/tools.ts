// Helpers for the fault suite: run the built commands with a clean environment and a deadline,
// and touch stored objects directly (keeping their metadata) to damage them.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, readdirSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import {
  AbortMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client,
} from "@aws-sdk/client-s3";
import { minioInfo } from "../support/minio.js";
import { s3ClientFor } from "../support/minio-server.js";
import { REPO_BIN, REPO_ROOT } from "../support/paths.js";

/**
 * A private copy of bin/ and dist/ for this test file: other engineers rebuild dist/ while the suite runs,
 * and a node process that loads a half-written bundle fails with "Unexpected end of input". The copy
 * lives under the repository (gitignored .cache/) so the bundles still find node_modules.
 */
export const BIN = snapshotCommands();

function snapshotCommands(): string {
  const root = join(REPO_ROOT, ".cache", `faults-${process.pid}-${Date.now().toString(36)}`);
  for (let attempt = 1; ; attempt++) {
    mkdirSync(root, { recursive: true, mode: 0o755 });
    cpSync(REPO_BIN, join(root, "bin"), { recursive: true });
    cpSync(join(REPO_ROOT, "dist"), join(root, "dist"), { recursive: true });
    try {
      for (const file of readdirSync(join(root, "dist")).filter((name) => name.endsWith(".cjs"))) {
        execFileSync(process.execPath, ["--check", join(root, "dist", file)], { stdio: "pipe" });
      }
      return join(root, "bin");
    } catch (error) {
      if (attempt >= 20) throw new Error(`dist/ does not hold complete bundles (run npm run build): ${String(error)}`);
      execFileSync("sleep", ["1"]);
    }
  }
}

afterAll(async () => {
  await rm(join(BIN, ".."), { recursive: true, force: true });
});

export interface ToolResult {
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface RunOptions {
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Kill with SIGKILL after this long; the result then has signal SIGKILL. */
  readonly timeoutMs?: number;
  /** Called with the child's pid once it runs (crash tests kill it). */
  readonly onSpawn?: (pid: number) => void;
}

/** Environment with nothing inherited: no local archive and no log files unless the test sets them. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${BIN}:${process.env["PATH"] ?? "/usr/bin:/bin"}`,
    HOME: process.env["HOME"] ?? "/root",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    WALNATIVE_LOCAL_ARCHIVE: "",
    WALNATIVE_ARCHIVE_LOG: "",
    WALNATIVE_RESTORE_LOG: "",
    // No prefetch worker: it would add requests to the proxy's counts and outlive the test's directory.
    WALG_DOWNLOAD_CONCURRENCY: "1",
    ...extra,
  };
}

/** Runs bin/<command> (or an absolute path) as the current user and collects its output. */
export async function runTool(command: string, args: string[], options: RunOptions = {}): Promise<ToolResult> {
  const started = performance.now();
  const path = command.startsWith("/") ? command : join(BIN, command);
  const child = spawn(path, args, { cwd: options.cwd, env: options.env ?? baseEnv(), stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  return { code: code ?? 128 + 9, signal, stdout, stderr, ms: Math.round(performance.now() - started) };
}

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A root-owned temporary directory removed after the file's tests. */
export async function scratchDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `wal-native-fault-${label}-`));
  scratch.push(dir);
  return dir;
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

let client: S3Client | undefined;
export function s3(): S3Client {
  client ??= s3ClientFor(minioInfo());
  return client;
}

export interface StoredObject {
  readonly body: Buffer;
  readonly metadata: Record<string, string>;
}

export async function readStored(key: string): Promise<StoredObject> {
  const bucket = minioInfo().bucket;
  const head = await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const object = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
  return { body, metadata: head.Metadata ?? {} };
}

/** Replaces an object's bytes; metadata is kept unless given, so our recorded checksum stays the archived one. */
export async function writeStored(key: string, body: Buffer, metadata?: Record<string, string>): Promise<void> {
  await s3().send(new PutObjectCommand({ Bucket: minioInfo().bucket, Key: key, Body: body, Metadata: metadata }));
}

/** Multipart uploads started under the prefix and never completed or aborted. */
export async function listOpenUploads(prefix: string): Promise<{ key: string; uploadId: string }[]> {
  const found: { key: string; uploadId: string }[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await s3().send(
      new ListMultipartUploadsCommand({ Bucket: minioInfo().bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
    );
    for (const upload of page.Uploads ?? []) {
      if (upload.Key && upload.UploadId) found.push({ key: upload.Key, uploadId: upload.UploadId });
    }
    if (!page.IsTruncated) return found;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

export async function abortUpload(key: string, uploadId: string): Promise<void> {
  await s3().send(new AbortMultipartUploadCommand({ Bucket: minioInfo().bucket, Key: key, UploadId: uploadId }));
}
