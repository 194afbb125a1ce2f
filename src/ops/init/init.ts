// wal-native init: validate the configuration, prepare the bucket (or directory) and prove access.
// Idempotent: a second run changes nothing and says so. Every step is reported on its own line.
import { randomBytes } from "node:crypto";
import { mkdir, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { Readable } from "node:stream";
import { type Config, type Env, loadConfig } from "../../config.js";
import { ConfigError, CorruptDataError, LocalFileError } from "../../errors.js";
import { bucketNameProblem } from "../shared/bucket-name.js";
import type { Storage } from "../../storage/storage.js";
import type { LifecyclePolicy, Outcome } from "./s3-admin.js";

export interface InitOptions extends LifecyclePolicy {
  readonly versioning: boolean;
  readonly lifecycle: boolean;
}

export type Report = (step: string, status: "ok" | "changed" | "skipped" | "warning", detail: string) => void;

/** Key of the round-trip probe, under the archive root; wal-g reads only wal_005/ and basebackups_005/. */
export const PROBE_FOLDER = "wal_native_init/";

export async function initArchive(env: Env, options: InitOptions, report: Report): Promise<Config> {
  await ensureFileRoot(env, report);
  const config = loadConfig(env);
  if (config.storage.kind === "s3") {
    const problem = bucketNameProblem(config.storage.bucket);
    if (problem) {
      throw new ConfigError(
        env.WALG_S3_PREFIX ? "WALG_S3_PREFIX" : "WALE_S3_PREFIX",
        `'${config.storage.bucket}' is not a valid bucket name: ${problem}`,
        "S3 and MinIO refuse such a name (their answer is a bare HTTP 400); name another bucket, e.g. s3://wal-archive/pg-primary",
      );
    }
  }
  report("configuration", "ok", describe(config));
  if (config.storage.kind === "s3") await prepareBucket(config, options, report);
  await localArchiveState(config, report);
  const { openStorage } = await import("../../storage/open.js");
  const storage = await openStorage(config);
  const ms = await roundTrip(storage, config);
  report("round trip", "ok", `wrote, read back and deleted ${PROBE_FOLDER}… in ${storage.label} (${ms} ms)`);
  return config;
}

/** WALG_FILE_PREFIX must exist before the configuration is valid (wal-g stats it too): create it first. */
async function ensureFileRoot(env: Env, report: Report): Promise<void> {
  if (env.WALG_S3_PREFIX || env.WALE_S3_PREFIX) return;
  const raw = env.WALG_FILE_PREFIX || env.WALE_FILE_PREFIX;
  if (!raw) return;
  const path = raw.startsWith("file://localhost") ? raw.slice("file://localhost".length) : raw;
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) return report("directory", "ok", `'${path}' exists`);
  if (existing) throw new LocalFileError(`WALG_FILE_PREFIX '${path}' exists but is not a directory`, undefined, 78);
  await mkdir(path, { recursive: true, mode: 0o750 }).catch((error: unknown) => {
    throw new LocalFileError(`cannot create WALG_FILE_PREFIX directory '${path}': ${(error as Error).message}`, error);
  });
  report("directory", "changed", `'${path}' created (mode 0750; it must belong to the user PostgreSQL runs as)`);
}

async function prepareBucket(config: Config, options: InitOptions, report: Report): Promise<void> {
  if (config.storage.kind !== "s3") return;
  const location = config.storage;
  const [{ createS3Client }, admin] = await Promise.all([import("../../storage/open.js"), import("./s3-admin.js")]);
  const client = await createS3Client(location);
  const show = (step: string, outcome: Outcome): void => {
    report(step, outcome.changed ? "changed" : "ok", outcome.detail);
    for (const warning of outcome.warnings ?? []) report(step, "warning", warning);
  };
  show("bucket", await admin.ensureBucket(client, location));
  if (options.versioning) show("versioning", await admin.ensureVersioning(client, location.bucket));
  else report("versioning", "skipped", "--no-versioning given");
  if (options.lifecycle) show("lifecycle", await admin.ensureLifecycle(client, location, options));
  else report("lifecycle", "skipped", "--no-lifecycle given");
}

async function localArchiveState(config: Config, report: Report): Promise<void> {
  const dir = config.localArchiveDir;
  if (!dir) return report("local archive", "ok", "switched off (WALNATIVE_LOCAL_ARCHIVE is empty)");
  const info = await stat(dir).catch(() => undefined);
  if (info?.isDirectory()) return report("local archive", "ok", `'${dir}' exists`);
  report("local archive", "warning", `'${dir}' does not exist yet; wal-archive creates it on the first push if it may`);
}

/** Write, read back, compare, delete, and confirm the delete: the permissions wal-archive and wal-g need. */
async function roundTrip(storage: Storage, config: Config): Promise<number> {
  const started = performance.now();
  const key = `${PROBE_FOLDER}probe-${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  const body = randomBytes(64);
  await storage.write(key, Readable.from([body]), { sizeHint: body.length });
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await storage.read(key)) chunks.push(chunk as Buffer);
    if (!Buffer.concat(chunks).equals(body)) throw new CorruptDataError(`${key} read back from ${storage.label} differs from what was written`);
  } finally {
    await storage.remove(key);
  }
  if ((await storage.stat(key)) !== undefined) throw new CorruptDataError(`${key} is still in ${storage.label} after deleting it`);
  if (config.storage.kind === "s3") {
    // On a versioned bucket the delete left a marker and a noncurrent version: remove them too.
    const [{ createS3Client }, { purgeVersions }] = await Promise.all([import("../../storage/open.js"), import("./s3-admin.js")]);
    await purgeVersions(await createS3Client(config.storage), config.storage.bucket, config.storage.root + key).catch(() => 0);
  }
  return Math.round(performance.now() - started);
}

function describe(config: Config): string {
  const where = config.storage.kind === "s3"
    ? `s3://${config.storage.bucket}/${config.storage.root} (endpoint ${config.storage.endpoint ?? "AWS"}, region ${config.storage.region})`
    : `file://${config.storage.root}`;
  return `${where}, compression ${config.compression}, ${config.segmentSize / 1048576} MiB segments`;
}
