// S3 storage: stat, read, list, remove; writes go through s3-multipart. Errors become typed errors.
import { Readable, Transform, type TransformCallback } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { NotFoundError, TransientStorageError } from "../errors.js";
import type { S3Location } from "../config.js";
import { type ObjectInfo, ObjectExistsError, type OpenedObject, type Storage, type WriteBody, type WriteOptions, statAllByListing } from "./storage.js";
import { writeObject } from "./s3-multipart.js";
import { isNotFound, storageError } from "./s3-errors.js";
import { sseCustomerFields } from "./sse-c.js";


export class S3Storage implements Storage {
  readonly label: string;

  constructor(
    private readonly client: S3Client,
    private readonly location: S3Location,
  ) {
    this.label = `s3://${location.bucket}/${location.root}`;
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(key), ...sseCustomerFields(this.location) }), {
        abortSignal: signal,
      });
      return { key, size: head.ContentLength ?? 0, lastModified: head.LastModified, metadata: head.Metadata ?? {} };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storageError(error, `cannot check '${key}' in ${this.label}`, this.location);
    }
  }

  async read(key: string, signal?: AbortSignal): Promise<Readable> {
    return (await this.open(key, signal)).body;
  }

  async open(key: string, signal?: AbortSignal): Promise<OpenedObject> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(key), ...sseCustomerFields(this.location) }), {
        abortSignal: signal,
      });
      if (!(object.Body instanceof Readable)) throw new TransientStorageError(`no body for '${key}' from ${this.label}`);
      // The SDK does not check that the body was complete; a cut connection must never look like EOF.
      const body = object.Body.pipe(lengthGuard(object.ContentLength, key, this.label));
      object.Body.once("error", (error) => body.destroy(storageError(error, `reading '${key}' from ${this.label} failed`, this.location)));
      const info = { key, size: object.ContentLength ?? 0, lastModified: object.LastModified, metadata: object.Metadata ?? {} };
      return { info, body };
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(key, this.label);
      throw storageError(error, `cannot read '${key}' from ${this.label}`, this.location);
    }
  }

  async write(key: string, body: WriteBody, options: WriteOptions = {}): Promise<ObjectInfo> {
    try {
      return await writeObject(this.client, this.location, this.keyOf(key), key, body, options);
    } catch (error) {
      // A refused If-None-Match is an answer, not a failure: callers compare contents on it.
      if (error instanceof ObjectExistsError) throw error;
      throw storageError(error, `cannot upload '${key}' to ${this.label}`, this.location);
    }
  }

  async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: this.keyOf(prefix), ContinuationToken: token }),
          { abortSignal: signal },
        );
      } catch (error) {
        throw storageError(error, `cannot list '${prefix}' in ${this.label}`);
      }
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        yield { key: item.Key.slice(this.location.root.length), size: item.Size ?? 0, lastModified: item.LastModified };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async statAll(keys: readonly string[], signal?: AbortSignal): Promise<ObjectInfo[]> {
    return statAllByListing((prefix) => this.list(prefix, signal), keys);
  }

  async remove(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(key) }));
    } catch (error) {
      if (!isNotFound(error)) throw storageError(error, `cannot delete '${key}' from ${this.label}`);
    }
  }

  private keyOf(key: string): string {
    return this.location.root + key;
  }
}

/** Errors out when the body ends before Content-Length bytes (or runs past it). */
function lengthGuard(expected: number | undefined, key: string, label: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      seen += chunk.length;
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      if (expected !== undefined && seen !== expected) {
        done(new TransientStorageError(`'${key}' from ${label} ended after ${seen} of ${expected} bytes`));
      } else done();
    },
  });
}
