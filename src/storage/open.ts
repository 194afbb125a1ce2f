// Pick a storage from the config. The S3 SDK lives in its own bundle (dist/s3.cjs, see
// scripts/build.mjs), loaded only here: a prefetch or local-archive hit must not even parse it, and with
// static credentials the small client in s3-lite.ts serves the per-segment calls without it.
import type { S3Client } from "@aws-sdk/client-s3";
import type { Config, S3Location } from "../config.js";
import * as errors from "../errors.js";
import { FsStorage } from "./fs.js";
import { LiteS3Storage } from "./s3-lite.js";
import * as storage from "./storage.js";
import type { Storage } from "./storage.js";

export async function openStorage(config: Config): Promise<Storage> {
  if (config.storage.kind === "file") return new FsStorage(config.storage.root);
  const location = config.storage;
  // The SDK's credential chain (instance profile, web identity, ~/.aws) is worth its start-up cost only
  // when there are no static keys; the lite client signs with static keys alone.
  const staticKeys = location.accessKeyId !== undefined && location.secretAccessKey !== undefined;
  if (location.client === "lite" || (location.client !== "sdk" && staticKeys)) {
    return new LiteS3Storage(location, { multipart: async () => (await loadS3()).openS3(location) });
  }
  return (await loadS3()).openS3(location);
}

/** The configured S3 client, for commands that manage the bucket itself (wal-native init). */
export async function createS3Client(location: S3Location): Promise<S3Client> {
  return (await loadS3()).createS3Client(location);
}

/** dist/s3.cjs uses this bundle's error and storage classes, so instanceof holds across bundles (scripts/build.mjs). */
function loadS3(): Promise<typeof import("./s3-entry.js")> {
  (globalThis as Record<symbol, unknown>)[Symbol.for("wal-native.shared")] ??= { errors, storage };
  return import("./s3-entry.js");
}
