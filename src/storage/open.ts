// Pick a storage from the config. The S3 SDK lives in its own bundle (dist/s3.cjs, see
// scripts/build.mjs), loaded only here: a prefetch or local-archive hit must not even parse it.
import type { S3Client } from "@aws-sdk/client-s3";
import type { Config, S3Location } from "../config.js";
import * as errors from "../errors.js";
import { FsStorage } from "./fs.js";
import * as storage from "./storage.js";
import type { Storage } from "./storage.js";

export async function openStorage(config: Config): Promise<Storage> {
  if (config.storage.kind === "file") return new FsStorage(config.storage.root);
  return (await loadS3()).openS3(config.storage);
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
