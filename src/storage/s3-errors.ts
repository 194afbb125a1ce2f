// Sorting S3 and network failures into typed errors. No SDK imports: the SDK-based store (s3.ts) and the
// dependency-free one (s3-lite.ts) share it, and the lite one is bundled into every entry point.
import { STATUS_CODES } from "node:http";
import { StorageAccessError, TransientStorageError, WalNativeError } from "../errors.js";

/** What both clients' errors look like: the SDK's ServiceException, or s3-lite's S3ResponseError. */
export interface AwsErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

export function isNotFound(error: unknown): boolean {
  const e = error as AwsErrorShape;
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || (e?.$metadata?.httpStatusCode === 404 && e?.name !== "NoSuchBucket");
}

const ACCESS_ERRORS = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "InvalidToken",
  "ExpiredToken",
  "AllAccessDisabled",
  "NoSuchBucket",
  "InvalidBucketName",
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
]);

/** The server refused a body that does not match its Content-MD5 or x-amz-content-sha256: sending it again may work. */
export const DAMAGED_IN_TRANSIT: ReadonlySet<string> = new Set(["BadDigest", "XAmzContentSHA256Mismatch"]);

/**
 * Sorts S3 and network failures into "retrying may help" and "a person must fix something". `object` says that
 * the request was for an object (HEAD, GET, PUT) and whether it carried an SSE-C key: a refusal may then be about
 * the customer key rather than the credentials.
 */
export function storageError(error: unknown, context: string, object?: { sseCustomerKey?: string }): WalNativeError {
  if (error instanceof WalNativeError) return error;
  const e = error as AwsErrorShape;
  const name = e?.name ?? e?.Code ?? "Error";
  const status = e?.$metadata?.httpStatusCode;
  // A HEAD has no body, so the SDK can only say "Unknown"; the HTTP status says more.
  const unnamed = (name === "Unknown" || name === "UnknownError") && status !== undefined;
  const detail = unnamed
    ? `HTTP ${status} ${STATUS_CODES[status] ?? ""}`.trim()
    : `${name}${status ? ` (HTTP ${status})` : ""}: ${oneLine(e?.message ?? String(error))}`;
  // A body that arrived damaged (the server checked Content-MD5 or the payload hash) is a 400, but nothing to fix.
  if (DAMAGED_IN_TRANSIT.has(name)) return new TransientStorageError(`${context}: the data arrived damaged: ${detail}`, error);
  if (ACCESS_ERRORS.has(name) || status === 403 || status === 401 || status === 400 || status === 301) {
    return new StorageAccessError(`${context}: ${detail}`, { hint: sseCustomerHint(object, name, status, detail) ?? accessHint(name), cause: error });
  }
  return new TransientStorageError(`${context}: ${detail}`, error);
}

function accessHint(name: string): string {
  if (name === "NoSuchBucket") return "create the bucket (wal-native init) or fix WALG_S3_PREFIX";
  if (name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch") return "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
  if (name === "ExpiredToken" || name === "InvalidToken") return "refresh AWS_SESSION_TOKEN";
  return "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and their permissions, AWS_REGION and AWS_ENDPOINT";
}

/**
 * S3 answers 403 AccessDenied to a wrong customer key and 400 to a missing one ("The object was stored using a
 * form of Server Side Encryption", MinIO and AWS alike; a HEAD's 400 comes without a body to say so).
 */
function sseCustomerHint(object: { sseCustomerKey?: string } | undefined, name: string, status: number | undefined, detail: string): string | undefined {
  if (!object) return undefined;
  const aboutEncryption = /server side encryption|customer/i.test(detail);
  if (object.sseCustomerKey && (name === "AccessDenied" || aboutEncryption)) {
    return "WALG_S3_SSE_C must be the customer key the object was stored with (or check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and their permissions)";
  }
  if (!object.sseCustomerKey && status === 400 && (aboutEncryption || /^HTTP 400\b/.test(detail))) {
    return "the object may be stored with SSE-C: set WALG_S3_SSE=AES256 and WALG_S3_SSE_C to the key it was stored with (as for wal-g)";
  }
  return undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim().slice(0, 300);
}
