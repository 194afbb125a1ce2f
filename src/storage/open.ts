// Pick a storage from the config. The S3 SDK is loaded only here, lazily: a local-archive hit
// in wal-restore must not pay for it.
import { readFileSync } from "node:fs";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Config, S3Location } from "../config.js";
import { ConfigError } from "../errors.js";
import { FsStorage } from "./fs.js";
import type { Storage } from "./storage.js";

export async function openStorage(config: Config): Promise<Storage> {
  if (config.storage.kind === "file") return new FsStorage(config.storage.root);
  return openS3(config.storage);
}

async function openS3(location: S3Location): Promise<Storage> {
  const [client, { S3Storage }] = await Promise.all([createS3Client(location), import("./s3.js")]);
  return new S3Storage(client, location);
}

/** The configured S3 client; also used directly by wal-native init for bucket settings. */
export async function createS3Client(location: S3Location): Promise<S3Client> {
  const [{ S3Client }, { NodeHttpHandler }, { Agent: HttpsAgent }, { Agent: HttpAgent }] = await Promise.all([
    import("@aws-sdk/client-s3"),
    import("@smithy/node-http-handler"),
    import("node:https"),
    import("node:http"),
  ]);
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
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(location.requestTimeoutMs, 5000),
      requestTimeout: location.requestTimeoutMs,
      httpAgent: new HttpAgent({ keepAlive: true }),
      httpsAgent: new HttpsAgent({ keepAlive: true, ca }),
    }),
  });
}
