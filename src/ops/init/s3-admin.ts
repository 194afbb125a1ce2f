// Bucket administration for wal-native init: create, versioning, lifecycle rules, probe-version cleanup.
import {
  CreateBucketCommand, DeleteObjectCommand, GetBucketLifecycleConfigurationCommand, GetBucketVersioningCommand,
  HeadBucketCommand, ListObjectVersionsCommand, ListObjectsV2Command, PutBucketLifecycleConfigurationCommand, PutBucketVersioningCommand,
  type LifecycleRule, type S3Client,
} from "@aws-sdk/client-s3";
import type { S3Location } from "../../config.js";
import { storageError } from "../../storage/s3-errors.js";
import { StorageAccessError } from "../../errors.js";

export const RULE_ABORT_MULTIPART = "wal-native-abort-incomplete-multipart";
export const RULE_NONCURRENT = "wal-native-expire-noncurrent-versions";

export interface LifecyclePolicy {
  readonly abortMultipartDays: number;
  readonly noncurrentDays: number;
}

export type Outcome = { readonly changed: boolean; readonly detail: string; readonly warnings?: string[] };

export async function ensureBucket(client: S3Client, location: S3Location): Promise<Outcome> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: location.bucket }));
    return { changed: false, detail: `bucket '${location.bucket}' exists` };
  } catch (error) {
    if (httpStatus(error) !== 404 && errorName(error) !== "NotFound" && errorName(error) !== "NoSuchBucket") {
      throw await explainRefusal(client, location, error);
    }
  }
  try {
    // us-east-1 is the one region that must not be named in CreateBucketConfiguration.
    const configuration = location.region === "us-east-1" ? undefined : { LocationConstraint: location.region as never };
    await client.send(new CreateBucketCommand({ Bucket: location.bucket, CreateBucketConfiguration: configuration }));
    return { changed: true, detail: `bucket '${location.bucket}' created` };
  } catch (error) {
    if (errorName(error) === "BucketAlreadyOwnedByYou") return { changed: false, detail: `bucket '${location.bucket}' exists` };
    throw storageError(error, `cannot create bucket '${location.bucket}'`);
  }
}

/**
 * A HEAD's refusal has no body, so the SDK can only say "HTTP 403 Forbidden" (or 400): a wrong secret, an unknown
 * key and a policy that does not allow the bucket all look alike. A one-key listing of the same bucket comes back
 * with S3's error code, which names the cause. Unreachable endpoints get a hint of their own.
 */
async function explainRefusal(client: S3Client, location: S3Location, headError: unknown): Promise<Error> {
  const context = `cannot check bucket '${location.bucket}'`;
  const code = (headError as { code?: string; cause?: { code?: string } })?.code ?? (headError as { cause?: { code?: string } })?.cause?.code;
  if (code && UNREACHABLE.has(code)) {
    const error = storageError(headError, context);
    return new StorageAccessError(error.message, {
      hint: `nothing answers at ${location.endpoint ?? "the AWS endpoint"}: check AWS_ENDPOINT (scheme, host, port) and that the storage runs`,
      cause: headError,
    });
  }
  const status = httpStatus(headError);
  if (status !== 400 && status !== 403) return storageError(headError, context);
  try {
    await client.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: location.root, MaxKeys: 1 }));
  } catch (listError) {
    const name = errorName(listError);
    const hint = name ? REFUSAL_HINTS[name] : undefined;
    const error = storageError(listError, context);
    return hint ? new StorageAccessError(error.message, { hint: hint(location), cause: listError }) : error;
  }
  return storageError(headError, context);
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT"]);

const REFUSAL_HINTS: Record<string, (location: S3Location) => string> = {
  InvalidAccessKeyId: () => "the storage does not know AWS_ACCESS_KEY_ID: create the user (mc admin user add) or fix the key",
  SignatureDoesNotMatch: () => "AWS_SECRET_ACCESS_KEY is not the secret of AWS_ACCESS_KEY_ID",
  AccessDenied: (location) =>
    `the storage knows these credentials but its policy refuses them on bucket '${location.bucket}': allow s3:ListBucket on it and ` +
    `s3:GetObject, s3:PutObject, s3:DeleteObject on '${location.bucket}/${location.root}*' (docs/GETTING-STARTED.md)`,
  AuthorizationHeaderMalformed: () => "AWS_REGION does not match the bucket's region",
};

export async function ensureVersioning(client: S3Client, bucket: string): Promise<Outcome> {
  let status: string | undefined;
  try {
    status = (await client.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status;
  } catch (error) {
    throw storageError(error, `cannot read the versioning state of bucket '${bucket}'`);
  }
  if (status === "Enabled") return { changed: false, detail: "versioning already enabled" };
  try {
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
  } catch (error) {
    throw storageError(error, `cannot enable versioning on bucket '${bucket}'`);
  }
  return { changed: true, detail: `versioning enabled (was ${status === "Suspended" ? "suspended" : "off"})` };
}

/** Our two rules, limited to the archive's prefix. Neither ever expires a current object. */
export function desiredRules(root: string, policy: LifecyclePolicy): LifecycleRule[] {
  return [
    {
      ID: RULE_ABORT_MULTIPART,
      Status: "Enabled",
      Filter: { Prefix: root },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: policy.abortMultipartDays },
    },
    {
      ID: RULE_NONCURRENT,
      Status: "Enabled",
      Filter: { Prefix: root },
      NoncurrentVersionExpiration: { NoncurrentDays: policy.noncurrentDays },
    },
  ];
}

/**
 * Puts our rules next to any rules already on the bucket (those are kept as they are), and warns
 * about foreign rules that expire current objects under the archive: retention of WAL and backups is
 * wal-g delete's job, and an age-based expiry can delete WAL that a retained backup still needs.
 */
export async function ensureLifecycle(client: S3Client, location: S3Location, policy: LifecyclePolicy): Promise<Outcome> {
  const existing = await readRules(client, location.bucket);
  const foreign = existing.filter((rule) => rule.ID !== RULE_ABORT_MULTIPART && rule.ID !== RULE_NONCURRENT);
  const ours = existing.filter((rule) => !foreign.includes(rule));
  const wanted = desiredRules(location.root, policy);
  const warnings = foreign.filter((rule) => expiresCurrent(rule) && overlaps(rulePrefix(rule), location.root)).map(
    (rule) => `lifecycle rule '${rule.ID ?? "(no id)"}' expires current objects under '${rulePrefix(rule)}': it can delete WAL a backup still needs; retention belongs to wal-g delete`,
  );
  if (sameRules(ours, wanted)) return { changed: false, detail: `rules already in place (${summarise(wanted, location.root)})`, warnings };
  try {
    await putRules(client, location.bucket, [...foreign, ...wanted]);
    return { changed: true, detail: `rules applied (${summarise(wanted, location.root)})`, warnings };
  } catch (error) {
    if (!isSchemaRefusal(error)) throw storageError(error, `cannot set lifecycle rules on bucket '${location.bucket}'`);
  }
  // MinIO rejects AbortIncompleteMultipartUpload (it removes stale uploads itself, after
  // MINIO_API_STALE_UPLOADS_EXPIRY, 24 h by default): keep the rule that it does support.
  const supported = wanted.filter((rule) => rule.ID !== RULE_ABORT_MULTIPART);
  warnings.push("the storage refused the abort-incomplete-multipart-upload rule (MinIO does not support it and cleans stale uploads itself after MINIO_API_STALE_UPLOADS_EXPIRY)");
  if (sameRules(ours, supported)) return { changed: false, detail: `rules already in place (${summarise(supported, location.root)})`, warnings };
  try {
    await putRules(client, location.bucket, [...foreign, ...supported]);
  } catch (error) {
    throw storageError(error, `cannot set lifecycle rules on bucket '${location.bucket}'`);
  }
  return { changed: true, detail: `rules applied (${summarise(supported, location.root)})`, warnings };
}

async function putRules(client: S3Client, bucket: string, rules: LifecycleRule[]): Promise<void> {
  await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
}

function summarise(rules: readonly LifecycleRule[], root: string): string {
  const parts = rules.map((rule) =>
    rule.AbortIncompleteMultipartUpload
      ? `abort incomplete multipart uploads after ${rule.AbortIncompleteMultipartUpload.DaysAfterInitiation} d`
      : `expire noncurrent versions after ${rule.NoncurrentVersionExpiration?.NoncurrentDays} d`,
  );
  return `${parts.join(", ")}, under '${root || "(whole bucket)"}'`;
}

/** The storage understood the request but not one of the rule kinds (schema validation, not permissions). */
function isSchemaRefusal(error: unknown): boolean {
  return ["InvalidArgument", "MalformedXML", "NotImplemented", "InvalidRequest"].includes(errorName(error) ?? "");
}

export async function readRules(client: S3Client, bucket: string): Promise<LifecycleRule[]> {
  try {
    return (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
  } catch (error) {
    if (errorName(error) === "NoSuchLifecycleConfiguration") return [];
    throw storageError(error, `cannot read the lifecycle rules of bucket '${bucket}'`);
  }
}

/** Deletes every version and delete marker of one key (the init probe), so nothing is left behind. */
export async function purgeVersions(client: S3Client, bucket: string, key: string): Promise<number> {
  const listed = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  const versions = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].filter((item) => item.Key === key);
  for (const version of versions) {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: version.VersionId }));
  }
  return versions.length;
}

function sameRules(actual: readonly LifecycleRule[], wanted: readonly LifecycleRule[]): boolean {
  const norm = (rule: LifecycleRule): string =>
    JSON.stringify([
      rule.ID, rule.Status, rulePrefix(rule), rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation ?? null,
      rule.NoncurrentVersionExpiration?.NoncurrentDays ?? null, rule.Expiration?.Days ?? null, rule.Expiration?.Date ?? null,
    ]);
  const a = actual.map(norm).sort();
  const b = wanted.map(norm).sort();
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function rulePrefix(rule: LifecycleRule): string {
  return rule.Filter?.Prefix ?? rule.Filter?.And?.Prefix ?? rule.Prefix ?? "";
}

function expiresCurrent(rule: LifecycleRule): boolean {
  return rule.Status === "Enabled" && (rule.Expiration?.Days !== undefined || rule.Expiration?.Date !== undefined);
}

function overlaps(prefix: string, root: string): boolean {
  return root.startsWith(prefix) || prefix.startsWith(root);
}

function errorName(error: unknown): string | undefined {
  return (error as { name?: string })?.name;
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
