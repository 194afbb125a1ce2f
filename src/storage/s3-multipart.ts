// Streaming S3 writer with bounded memory: one PUT for bodies below a part, else multipart with
// at most two parts in flight. Any part failure aborts the upload and throws (aws-sdk-js-v3 #2311).
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { TransientStorageError } from "../errors.js";
import type { S3Location } from "../config.js";
import { type ObjectInfo, ObjectExistsError, type WriteBody, type WriteOptions, resolveMetadata } from "./storage.js";
import { sseCustomerFields } from "./sse-c.js";

const PARTS_IN_FLIGHT = 2;

export async function writeObject(
  client: S3Client,
  location: S3Location,
  fullKey: string,
  key: string,
  body: WriteBody,
  options: WriteOptions,
): Promise<ObjectInfo> {
  if (Buffer.isBuffer(body) && body.length <= location.partSize) return putSingle(client, location, fullKey, key, body, options);
  const parts = partsOf(body, location.partSize);
  const first = await parts.next();
  const firstPart = first.done ? Buffer.alloc(0) : first.value;
  const second = first.done ? first : await parts.next();
  if (second.done) return putSingle(client, location, fullKey, key, firstPart, options);
  return putMultipart(client, location, fullKey, key, [firstPart, second.value], parts, options);
}

function commonHeaders(location: S3Location, options: WriteOptions) {
  const metadata = resolveMetadata(options);
  return {
    Bucket: location.bucket,
    StorageClass: location.storageClass as never,
    // With a customer key, WALG_S3_SSE names its algorithm (SSE-C), not SSE-S3 (wal-g's uploader.go does the same).
    ServerSideEncryption: location.sseCustomerKey ? undefined : (location.sse as never),
    SSEKMSKeyId: location.sseKmsId,
    ...sseCustomerFields(location),
    Metadata: metadata ? { ...metadata } : undefined,
  };
}

async function putSingle(
  client: S3Client,
  location: S3Location,
  fullKey: string,
  key: string,
  body: Buffer,
  options: WriteOptions,
): Promise<ObjectInfo> {
  const response = await client
    .send(
      new PutObjectCommand({
        ...commonHeaders(location, options),
        Key: fullKey,
        Body: body,
        ContentLength: body.length,
        IfNoneMatch: options.ifAbsent ? "*" : undefined,
      }),
      { abortSignal: options.signal },
    )
    .catch((error: unknown) => rethrowConditional(error, key));
  checkEtag(response.ETag, body, location, key);
  return { key, size: body.length };
}

async function putMultipart(
  client: S3Client,
  location: S3Location,
  fullKey: string,
  key: string,
  head: Buffer[],
  rest: AsyncGenerator<Buffer>,
  options: WriteOptions,
): Promise<ObjectInfo> {
  const created = await client.send(new CreateMultipartUploadCommand({ ...commonHeaders(location, options), Key: fullKey }), {
    abortSignal: options.signal,
  });
  const uploadId = created.UploadId;
  if (!uploadId) throw new TransientStorageError(`no upload id for '${key}'`);
  const completed: { PartNumber: number; ETag: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let size = 0;
  let partNumber = 0;
  const upload = async (part: Buffer, number: number): Promise<void> => {
    const response = await client.send(
      new UploadPartCommand({ Bucket: location.bucket, Key: fullKey, UploadId: uploadId, PartNumber: number, Body: part, ...sseCustomerFields(location) }),
      { abortSignal: options.signal },
    );
    if (!response.ETag) throw new TransientStorageError(`part ${number} of '${key}' has no ETag`);
    completed.push({ PartNumber: number, ETag: response.ETag });
  };
  try {
    for await (const part of chain(head, rest)) {
      partNumber += 1;
      size += part.length;
      const task = upload(part, partNumber).finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    completed.sort((a, b) => a.PartNumber - b.PartNumber);
    await client
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: location.bucket,
          Key: fullKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: completed },
          IfNoneMatch: options.ifAbsent ? "*" : undefined,
          ...sseCustomerFields(location),
        }),
        { abortSignal: options.signal },
      )
      .catch((error: unknown) => rethrowConditional(error, key));
  } catch (error) {
    await Promise.allSettled(inFlight);
    await client.send(new AbortMultipartUploadCommand({ Bucket: location.bucket, Key: fullKey, UploadId: uploadId })).catch(() => undefined);
    throw error;
  }
  return { key, size };
}

async function* chain(head: Buffer[], rest: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  yield* head;
  yield* rest;
}

/** Cuts the stream into parts of exactly partSize bytes (the last one shorter). */
async function* partsOf(body: WriteBody, partSize: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let yielded = false;
  for await (const chunk of (Buffer.isBuffer(body) ? [body] : body) as AsyncIterable<Buffer>) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= partSize) {
      const all = Buffer.concat(pending, pendingBytes);
      yield all.subarray(0, partSize);
      yielded = true;
      pending = pendingBytes > partSize ? [all.subarray(partSize)] : [];
      pendingBytes -= partSize;
    }
  }
  if (pendingBytes > 0 || !yielded) yield Buffer.concat(pending, pendingBytes);
}

function rethrowConditional(error: unknown, key: string): never {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.$metadata?.httpStatusCode === 412 || e?.name === "PreconditionFailed") throw new ObjectExistsError(key);
  throw error;
}

/** For plain and SSE-S3 single PUTs the ETag is the body's MD5: proof the server stored these bytes. */
function checkEtag(etag: string | undefined, body: Buffer, location: S3Location, key: string): void {
  if (!etag) throw new TransientStorageError(`upload of '${key}' was not confirmed (no ETag)`);
  // SSE-KMS and SSE-C ETags are not the MD5 of the body (S3's documentation of the ETag).
  if (location.sse === "aws:kms" || location.sseCustomerKey) return;
  const md5 = createHash("md5").update(body).digest("hex");
  if (etag.replace(/"/g, "") !== md5) {
    throw new TransientStorageError(`upload of '${key}' was not confirmed: ETag ${etag} does not match the body's MD5`);
  }
}
