// Sorting S3 and network failures into typed errors. No SDK imports: the SDK-based store (s3.ts) and the
// dependency-free one (s3-lite.ts) share it, and the lite one is bundled into every entry point.
import { STATUS_CODES } from "node:http";
import { NotFoundError, StorageAccessError, TransientStorageError, WalNativeError } from "../errors.js";
import { ObjectExistsError } from "./storage.js";

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

/** What an S3 store names in its errors: its label, and whether its object requests carry an SSE-C key. */
export interface S3StoreNames {
  readonly label: string;
  readonly location: { readonly sseCustomerKey?: string };
}

// One object request of either S3 store (s3.ts with the SDK, s3-lite.ts without), its failures sorted the same way.

/** HEAD: undefined when the object is absent, a typed error for any other failure. */
export async function statRequest<T>(store: S3StoreNames, key: string, head: () => Promise<T>): Promise<T | undefined> {
  try {
    return await head();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw storageError(error, `cannot check '${key}' in ${store.label}`, store.location);
  }
}

/** GET: NotFoundError when the object is absent (restore's exit 74 rests on it), a typed error for any other failure. */
export async function openRequest<T>(store: S3StoreNames, key: string, get: () => Promise<T>): Promise<T> {
  try {
    return await get();
  } catch (error) {
    if (isNotFound(error)) throw new NotFoundError(key, store.label);
    throw storageError(error, `cannot read '${key}' from ${store.label}`, store.location);
  }
}

/** PUT: a refused If-None-Match (ObjectExistsError) is an answer, not a failure: callers compare contents on it. */
export async function writeRequest<T>(store: S3StoreNames, key: string, put: () => Promise<T>): Promise<T> {
  try {
    return await put();
  } catch (error) {
    if (error instanceof ObjectExistsError) throw error;
    throw storageError(error, `cannot upload '${key}' to ${store.label}`, store.location);
  }
}

/** DELETE: an object already absent counts as deleted. */
export async function removeRequest(store: S3StoreNames, key: string, remove: () => Promise<unknown>): Promise<void> {
  try {
    await remove();
  } catch (error) {
    if (!isNotFound(error)) throw storageError(error, `cannot delete '${key}' from ${store.label}`);
  }
}

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
