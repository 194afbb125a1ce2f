// SSE-C as wal-g sends it (pkg/storages/s3/folder.go, uploader.go): the algorithm from WALG_S3_SSE, the key
// (WALG_S3_SSE_C's bytes) in base64 and the base64 MD5 of the key, on every PUT, GET, HEAD and copy of an object.
// S3 keeps only the MD5: an object written with one key cannot be read with another.
import { createHash } from "node:crypto";
import type { S3Location } from "../config.js";

export interface SseCustomerKey {
  readonly algorithm: string;
  /** Base64 of the 32 key bytes. */
  readonly key: string;
  /** Base64 of the key's MD5. */
  readonly keyMd5: string;
}

const derived = new WeakMap<S3Location, SseCustomerKey>();

export function sseCustomerKey(location: S3Location): SseCustomerKey | undefined {
  if (!location.sseCustomerKey || !location.sse) return undefined;
  let known = derived.get(location);
  if (!known) {
    const bytes = Buffer.from(location.sseCustomerKey, "utf8");
    known = { algorithm: location.sse, key: bytes.toString("base64"), keyMd5: createHash("md5").update(bytes).digest("base64") };
    derived.set(location, known);
  }
  return known;
}

/** The request headers of an object request (PUT, GET, HEAD) with SSE-C, for the lite client. */
export function sseCustomerHeaders(location: S3Location): Record<string, string> {
  const sse = sseCustomerKey(location);
  if (!sse) return {};
  return {
    "x-amz-server-side-encryption-customer-algorithm": sse.algorithm,
    "x-amz-server-side-encryption-customer-key": sse.key,
    "x-amz-server-side-encryption-customer-key-md5": sse.keyMd5,
  };
}

/** The same as the AWS SDK's input fields; its SSE-C middleware keeps a key given in base64 as it is. */
export function sseCustomerFields(location: S3Location): { SSECustomerAlgorithm?: string; SSECustomerKey?: string; SSECustomerKeyMD5?: string } {
  const sse = sseCustomerKey(location);
  return sse ? { SSECustomerAlgorithm: sse.algorithm, SSECustomerKey: sse.key, SSECustomerKeyMD5: sse.keyMd5 } : {};
}
