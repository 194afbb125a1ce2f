// The S3 side of storage: client construction with the SDK. Bundled on its own as dist/s3.cjs
// (scripts/build.mjs), so the per-segment entry points only parse it when they talk to S3.
import { readFileSync } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client } from "@aws-sdk/client-s3";
import type { S3Location } from "../config.js";
import { ConfigError } from "../errors.js";
import { S3Storage } from "./s3.js";
import type { Storage } from "./storage.js";

export function openS3(location: S3Location): Storage {
  return new S3Storage(createS3Client(location), location);
}

/** The configured S3 client; also used directly by wal-native init for bucket settings. */
export function createS3Client(location: S3Location): S3Client {
  let ca: Buffer | undefined;
  if (location.caCertFile) {
    try {
      ca = readFileSync(location.caCertFile);
    } catch (error) {
      throw new ConfigError("WALG_S3_CA_CERT_FILE", `cannot read '${location.caCertFile}': ${(error as Error).message}`);
    }
  }
  return new S3Client({
    region: location.region,
    endpoint: location.endpoint,
    forcePathStyle: location.forcePathStyle,
    maxAttempts: location.maxRetries + 1,
    // Newer SDKs send CRC32 checksums by default; some MinIO/Ceph versions reject them.
    requestChecksumCalculation: location.checksumWhenRequired ? "WHEN_REQUIRED" : "WHEN_SUPPORTED",
    responseChecksumValidation: location.checksumWhenRequired ? "WHEN_REQUIRED" : "WHEN_SUPPORTED",
    credentials:
      location.accessKeyId && location.secretAccessKey
        ? { accessKeyId: location.accessKeyId, secretAccessKey: location.secretAccessKey, sessionToken: location.sessionToken }
        : undefined,
    // The SDK builds its own Node handler from these options (no direct dependency on the handler package,
    // which could drift from the SDK's).
    requestHandler: {
      connectionTimeout: Math.min(location.requestTimeoutMs, 5000),
      // Inactivity on the socket, also while a response body streams: smithy's requestTimeout only
      // covers the wait for headers and by default merely logs a warning, so a stalled GET hung forever.
      socketTimeout: location.requestTimeoutMs,
      httpAgent: new HttpAgent({ keepAlive: true }),
      httpsAgent: new HttpsAgent({ keepAlive: true, ca }),
    },
  });
}
