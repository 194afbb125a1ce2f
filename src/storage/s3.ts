// S3 storage: stat, read, list, remove; writes go through s3-multipart. Errors become typed errors.
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { TransientStorageError } from "../errors.js";
import type { S3Location } from "../config.js";
import { type ObjectInfo, type OpenedObject, type Storage, type WriteBody, type WriteOptions, statAllByListing } from "./storage.js";
import { writeObject } from "./s3-multipart.js";
import { type S3StoreNames, openRequest, removeRequest, statRequest, storageError, writeRequest } from "./s3-errors.js";
import { LengthCheck } from "./s3-body.js";
import { sseCustomerFields } from "./sse-c.js";

export class S3Storage implements Storage {
  readonly label: string;
  private readonly names: S3StoreNames;

  constructor(
    private readonly client: S3Client,
    private readonly location: S3Location,
  ) {
    this.label = `s3://${location.bucket}/${location.root}`;
    this.names = { label: this.label, location };
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    return statRequest(this.names, key, async () => {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(key), ...sseCustomerFields(this.location) }), {
        abortSignal: signal,
      });
      return { key, size: head.ContentLength ?? 0, lastModified: head.LastModified, metadata: head.Metadata ?? {} };
    });
  }

  async read(key: string, signal?: AbortSignal): Promise<Readable> {
    return (await this.open(key, signal)).body;
  }

  async open(key: string, signal?: AbortSignal): Promise<OpenedObject> {
    return openRequest(this.names, key, async () => {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(key), ...sseCustomerFields(this.location) }), {
        abortSignal: signal,
      });
      if (!(object.Body instanceof Readable)) throw new TransientStorageError(`no body for '${key}' from ${this.label}`);
      // The SDK does not check that the body was complete; a cut connection must never look like EOF.
      const body = object.Body.pipe(new LengthCheck(object.ContentLength, `'${key}' from ${this.label}`));
      object.Body.once("error", (error) => body.destroy(storageError(error, `reading '${key}' from ${this.label} failed`, this.location)));
      const info = { key, size: object.ContentLength ?? 0, lastModified: object.LastModified, metadata: object.Metadata ?? {} };
      return { info, body };
    });
  }

  async write(key: string, body: WriteBody, options: WriteOptions = {}): Promise<ObjectInfo> {
    return writeRequest(this.names, key, () => writeObject(this.client, this.location, this.keyOf(key), key, body, options));
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
    await removeRequest(this.names, key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(key) })));
  }

  private keyOf(key: string): string {
    return this.location.root + key;
  }
}
