// Read the environment once, validate it, and return a frozen Config. wal-g's names (walg-compat.md 9, 10).
import { statSync } from "node:fs";
import { ConfigError } from "./errors.js";
import { type CodecName, codecNameFromSetting } from "./compress/codec.js";
import type { LogLevel } from "./log.js";
import { type Encryption, encryptionFrom } from "./crypto/keys.js";
import { refuseUnsupportedSettings } from "./walg-settings.js";

import type { Env } from "./env.js";
export type { Env };

export interface S3Location {
  readonly kind: "s3";
  readonly bucket: string;
  /** Key prefix under the bucket: "" or "a/b/" (always a trailing slash when non-empty). */
  readonly root: string;
  readonly endpoint?: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
  readonly caCertFile?: string;
  readonly storageClass: string;
  readonly sse?: string;
  readonly sseKmsId?: string;
  /** WALG_S3_SSE_C: the customer key (32 bytes) of SSE-C, sent with every request for an object. */
  readonly sseCustomerKey?: string;
  readonly checksumWhenRequired: boolean;
  readonly maxRetries: number;
  readonly partSize: number;
  readonly requestTimeoutMs: number;
  /**
   * WALNATIVE_S3_CLIENT: "lite" (node:http and SigV4, storage/s3-lite.ts), "sdk" (the AWS SDK), or "auto":
   * lite when static credentials are set, else the SDK for its credential chain. Absent means auto.
   */
  readonly client?: "auto" | "lite" | "sdk";
}

export interface FileLocation {
  readonly kind: "file";
  /** Absolute or cwd-relative directory; objects live at path.join(root, key). */
  readonly root: string;
}

export interface Config {
  readonly storage: S3Location | FileLocation;
  readonly compression: CodecName;
  /** Client-side encryption of WAL objects as wal-g does it (after compression), or undefined. */
  readonly encryption: Encryption | undefined;
  /** Refuse to replace an archived file with different content (always on for .history). */
  readonly preventWalOverwrite: boolean;
  readonly segmentSize: number;
  /** Local fast-recovery archive, or undefined when switched off. */
  readonly localArchiveDir: string | undefined;
  readonly archiveLogFile: string | undefined;
  readonly restoreLogFile: string | undefined;
  readonly logLevel: LogLevel;
  /**
   * WALNATIVE_RESTORE_RETRY_SECONDS: how long wal-restore keeps retrying a storage failure before it gives up;
   * undefined when not set (restore/on-error.ts then picks by the kind of recovery).
   */
  readonly restoreRetryMs: number | undefined;
  /**
   * WALNATIVE_RESTORE_ON_ERROR: what wal-restore answers once it gives up. "abort": exit above 125 (PostgreSQL
   * aborts recovery); "not-found": exit 1, like wal-g; undefined (unset, or "auto"): by the kind of recovery.
   */
  readonly restoreFailureMode: "abort" | "not-found" | undefined;
  readonly uploadConcurrency: number;
  readonly downloadConcurrency: number;
}

const DEFAULTS = {
  localArchiveDir: "/var/lib/postgresql/wal_archive",
  archiveLogFile: "/var/log/postgresql/wal-archive.log",
  restoreLogFile: "/var/log/postgresql/wal-restore.log",
};

export function loadConfig(env: Env = process.env): Config {
  refuseUnsupportedSettings(env);
  const segmentSizeMb = integer(env, "WALG_PG_WAL_SIZE", 16, 1, 1024);
  if ((segmentSizeMb & (segmentSizeMb - 1)) !== 0) {
    throw new ConfigError("WALG_PG_WAL_SIZE", `${segmentSizeMb} is not a power of two (MiB)`);
  }
  return Object.freeze({
    storage: storageFrom(env),
    compression: codecNameFromSetting(env.WALG_COMPRESSION_METHOD || "lz4"),
    encryption: encryptionFrom(env),
    preventWalOverwrite: boolean(env, "WALG_PREVENT_WAL_OVERWRITE", true),
    segmentSize: segmentSizeMb * 1024 * 1024,
    localArchiveDir: optionalPath(env, "WALNATIVE_LOCAL_ARCHIVE", DEFAULTS.localArchiveDir),
    archiveLogFile: optionalPath(env, "WALNATIVE_ARCHIVE_LOG", DEFAULTS.archiveLogFile),
    restoreLogFile: optionalPath(env, "WALNATIVE_RESTORE_LOG", DEFAULTS.restoreLogFile),
    logLevel: logLevel(env),
    restoreRetryMs: optionalSeconds(env, "WALNATIVE_RESTORE_RETRY_SECONDS", 86400),
    restoreFailureMode: restoreFailureMode(env),
    uploadConcurrency: integer(env, "WALG_UPLOAD_CONCURRENCY", 16, 1, 256),
    downloadConcurrency: integer(env, "WALG_DOWNLOAD_CONCURRENCY", 10, 1, 256),
  });
}

function storageFrom(env: Env): S3Location | FileLocation {
  const storagePrefix = trimSlashes(env.WALG_STORAGE_PREFIX ?? "");
  // wal-g tries adapters in this order and the first configured one wins (walg-compat.md 1.1).
  const s3 = env.WALG_S3_PREFIX || env.WALE_S3_PREFIX;
  if (s3) return s3From(env, s3, storagePrefix);
  const file = env.WALG_FILE_PREFIX || env.WALE_FILE_PREFIX;
  if (file) return fileFrom(file, storagePrefix);
  // Other storages' prefixes were refused by name before (walg-settings.ts).
  throw new ConfigError("WALG_S3_PREFIX", "no storage configured", "set WALG_S3_PREFIX=s3://bucket/path or WALG_FILE_PREFIX=/path/to/dir");
}

/** s3://bucket/a/b/ -> bucket "bucket", root "a/b/" (walg-compat.md 1.1: url.Parse, trim slashes). */
export function parseS3Prefix(prefix: string, setting = "WALG_S3_PREFIX"): { bucket: string; root: string } {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]+)([^?#]*)$/.exec(prefix.trim());
  if (!match?.[2]) throw new ConfigError(setting, `'${prefix}' is not a URL like s3://bucket/path`);
  const root = trimSlashes(match[3] ?? "");
  return { bucket: match[2], root: cleanKeyPath(root === "" ? "" : `${root}/`) };
}

/**
 * wal-g's S3 SDK (aws-sdk-go v1, rest protocol cleanPath) sends every request path through path.Clean:
 * "a//c/" reaches S3 as "a/c/", "a/./b/../c/" as "a/c/". Seen with wal-g v3.0.9 on MinIO (compat-walg-layout test).
 */
function cleanKeyPath(root: string): string {
  const parts: string[] = [];
  for (const part of root.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.length === 0 ? "" : `${parts.join("/")}/`;
}

function s3From(env: Env, prefix: string, storagePrefix: string): S3Location {
  const setting = env.WALG_S3_PREFIX ? "WALG_S3_PREFIX" : "WALE_S3_PREFIX";
  const { bucket, root } = parseS3Prefix(prefix, setting);
  const endpoint = s3Setting(env, "AWS_ENDPOINT");
  const sse = s3Setting(env, "S3_SSE");
  const sseKmsId = s3Setting(env, "S3_SSE_KMS_ID");
  if (sse && !["AES256", "aws:kms"].includes(sse)) {
    throw new ConfigError("WALG_S3_SSE", `'${sse}' is not AES256 or aws:kms`);
  }
  if (sse === "aws:kms" && !sseKmsId) throw new ConfigError("WALG_S3_SSE_KMS_ID", "required when WALG_S3_SSE is aws:kms");
  if (sse !== "aws:kms" && sseKmsId) throw new ConfigError("WALG_S3_SSE_KMS_ID", "only allowed with WALG_S3_SSE=aws:kms");
  const sseCustomerKey = sseCustomerKeyFrom(env, sse, endpoint);
  const caCertFile = s3Setting(env, "S3_CA_CERT_FILE") || env.AWS_CA_BUNDLE || undefined;
  if (caCertFile) mustExist(caCertFile, "WALG_S3_CA_CERT_FILE");
  const checksum = (env.AWS_REQUEST_CHECKSUM_CALCULATION ?? "when_required").toLowerCase();
  if (!["when_required", "when_supported"].includes(checksum)) {
    throw new ConfigError("AWS_REQUEST_CHECKSUM_CALCULATION", `'${checksum}' is not when_required or when_supported`);
  }
  return {
    kind: "s3",
    bucket,
    root: cleanKeyPath(joinRoot(root, storagePrefix)),
    endpoint: endpoint ? normaliseEndpoint(endpoint) : undefined,
    region: s3Setting(env, "AWS_REGION") || "us-east-1",
    forcePathStyle: boolean(env, "AWS_S3_FORCE_PATH_STYLE", false, s3Setting(env, "AWS_S3_FORCE_PATH_STYLE")),
    accessKeyId: env.AWS_ACCESS_KEY_ID || env.AWS_ACCESS_KEY || undefined,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY || env.AWS_SECRET_KEY || undefined,
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
    caCertFile,
    storageClass: s3Setting(env, "S3_STORAGE_CLASS") || "STANDARD",
    sse,
    sseKmsId,
    sseCustomerKey,
    checksumWhenRequired: checksum === "when_required",
    maxRetries: integer(env, "WALG_S3_MAX_RETRIES", 4, 0, 100),
    partSize: integer(env, "WALG_S3_MAX_PART_SIZE", 20 * 1024 * 1024, 5 * 1024 * 1024, 5 * 1024 * 1024 * 1024),
    requestTimeoutMs: integer(env, "WALNATIVE_S3_TIMEOUT_SECONDS", 30, 1, 3600) * 1000,
    client: choice(env, "WALNATIVE_S3_CLIENT", ["auto", "lite", "sdk"] as const, "auto"),
  };
}

/**
 * SSE-C as wal-g sends it (pkg/storages/s3/uploader.go, folder.go): WALG_S3_SSE names the algorithm, the key is
 * the setting's bytes. wal-g silently stores plain objects when WALG_S3_SSE is unset; here that is an error,
 * as are keys S3 would refuse and plain http, over which S3 refuses customer keys.
 */
function sseCustomerKeyFrom(env: Env, sse: string | undefined, endpoint: string | undefined): string | undefined {
  const key = s3Setting(env, "S3_SSE_C");
  if (!key) return undefined;
  if (sse !== "AES256") {
    throw new ConfigError("WALG_S3_SSE_C", "needs WALG_S3_SSE=AES256, the algorithm S3 uses with a customer key (wal-g would store the objects without it)");
  }
  const length = Buffer.byteLength(key, "utf8");
  if (length !== 32) throw new ConfigError("WALG_S3_SSE_C", `the customer key must be 32 bytes (a 256-bit AES key), not ${length}`);
  if (endpoint && /^http:\/\//i.test(endpoint)) {
    throw new ConfigError("WALG_S3_SSE_C", "S3 accepts customer keys over https only", "use an https AWS_ENDPOINT (WALG_S3_CA_CERT_FILE for a private CA)");
  }
  return key;
}

function fileFrom(prefix: string, storagePrefix: string): FileLocation {
  // Only a literal leading file://localhost is stripped, as in wal-g (pkg/storages/fs/configure.go).
  const path = prefix.startsWith("file://localhost") ? prefix.slice("file://localhost".length) : prefix;
  mustExist(path, "WALG_FILE_PREFIX", true);
  return { kind: "file", root: storagePrefix === "" ? path : `${path.replace(/\/+$/, "")}/${storagePrefix}` };
}

/** wal-g looks up S3 setting K as K, then WALG_K, then WALE_K (internal/storage_adapter.go). */
function s3Setting(env: Env, key: string): string | undefined {
  return env[key] || env[`WALG_${key}`] || env[`WALE_${key}`] || undefined;
}

function normaliseEndpoint(endpoint: string): string {
  // wal-g: a scheme-less endpoint means https.
  return /^[a-z]+:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`;
}

function joinRoot(root: string, storagePrefix: string): string {
  return storagePrefix === "" ? root : `${root}${storagePrefix}/`;
}

function trimSlashes(text: string): string {
  return text.replace(/^\/+|\/+$/g, "");
}

function mustExist(path: string, setting: string, directory = false): void {
  try {
    const info = statSync(path);
    if (directory && !info.isDirectory()) throw new ConfigError(setting, `'${path}' is not a directory`);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(setting, `'${path}' does not exist or cannot be read`, directory ? `create it: mkdir -p ${path}` : undefined);
  }
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `'${raw}' is not an integer between ${min} and ${max}`);
  }
  return value;
}

function boolean(env: Env, name: string, fallback: boolean, raw: string | undefined = env[name]): boolean {
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = raw.trim().toLowerCase();
  if (["1", "t", "true", "yes", "on"].includes(value)) return true;
  if (["0", "f", "false", "no", "off"].includes(value)) return false;
  throw new ConfigError(name, `'${raw}' is not true or false`);
}

function choice<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  if ((allowed as readonly string[]).includes(raw.trim())) return raw.trim() as T;
  throw new ConfigError(name, `'${raw}' is not one of ${allowed.join(", ")}`);
}

/** Whole seconds as milliseconds; undefined when not set. */
function optionalSeconds(env: Env, name: string, max: number): number | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === "" ? undefined : integer(env, name, 0, 0, max) * 1000;
}

function restoreFailureMode(env: Env): "abort" | "not-found" | undefined {
  const mode = choice(env, "WALNATIVE_RESTORE_ON_ERROR", ["auto", "abort", "not-found"], "auto");
  return mode === "auto" ? undefined : mode;
}

/** "" or "off" switches a path setting off. */
function optionalPath(env: Env, name: string, fallback: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return fallback;
  return raw.trim() === "" || raw.trim() === "off" ? undefined : raw.trim();
}

function logLevel(env: Env): LogLevel {
  const raw = (env.WALNATIVE_LOG_LEVEL ?? env.WALG_LOG_LEVEL ?? "info").toLowerCase();
  if (raw === "devel" || raw === "debug") return "debug";
  if (raw === "normal" || raw === "info") return "info";
  if (raw === "warn" || raw === "error") return raw;
  throw new ConfigError("WALNATIVE_LOG_LEVEL", `'${raw}' is not debug, info, warn or error`);
}
