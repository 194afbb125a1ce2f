// Storage interface shared by the filesystem and S3 stores; keys are relative to the store's root.
import type { Readable } from "node:stream";

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
  /** User metadata, lowercase names without the x-amz-meta- prefix. The filesystem store has none. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface OpenedObject {
  readonly info: ObjectInfo;
  readonly body: Readable;
}

export type Metadata = Readonly<Record<string, string>>;

export type WriteBody = Readable | Buffer;

export interface WriteOptions {
  /**
   * A function is called once the body has been read far enough to send headers: after the whole
   * body for a single PUT, so a checksum computed while streaming can go in; at the start of a
   * multipart upload, where it must already be known.
   */
  readonly metadata?: Metadata | (() => Metadata);
  /** Fail with ObjectExistsError instead of replacing an existing object (S3 If-None-Match: *). */
  readonly ifAbsent?: boolean;
  /** Known length of the body, when the caller has it; lets small objects go in one PUT. */
  readonly sizeHint?: number;
  readonly signal?: AbortSignal;
}

export interface Storage {
  /** "s3://bucket/prefix" or "file:///path", used in messages; never contains credentials. */
  readonly label: string;
  /** undefined means the store confirmed the object is absent; any other failure throws. */
  stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>;
  /** Absent: throws NotFoundError. The stream errors if the body is cut short. */
  read(key: string, signal?: AbortSignal): Promise<Readable>;
  /** read() plus the object's size and metadata, in one round trip. */
  open(key: string, signal?: AbortSignal): Promise<OpenedObject>;
  /**
   * Resolves once the complete object is durable; a failure leaves no visible partial object. A Buffer
   * body (a whole compressed segment) goes out as it is, without passing through a stream.
   */
  write(key: string, body: WriteBody, options?: WriteOptions): Promise<ObjectInfo>;
  list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo>;
  /** Absent is not an error. */
  remove(key: string): Promise<void>;
  /**
   * Which of these keys exist, in the order given; one LIST on S3 when they share a prefix, so a
   * search across every compression extension costs one round trip. Metadata is not filled in.
   */
  statAll(keys: readonly string[], signal?: AbortSignal): Promise<ObjectInfo[]>;
}

export class ObjectExistsError extends Error {
  constructor(readonly key: string) {
    super(`object '${key}' already exists`);
    this.name = "ObjectExistsError";
  }
}

export const WAL_FOLDER = "wal_005/";
export const BACKUP_FOLDER = "basebackups_005/";

export function resolveMetadata(options: WriteOptions): Metadata | undefined {
  return typeof options.metadata === "function" ? options.metadata() : options.metadata;
}

/**
 * statAll for stores that list: one listing of the keys' common prefix answers for all of them, in the
 * order asked (S3: one LIST finds a segment under any compression extension).
 */
export async function statAllByListing(
  list: (prefix: string) => AsyncIterable<ObjectInfo>, keys: readonly string[],
): Promise<ObjectInfo[]> {
  let prefix = keys[0] ?? "";
  for (const key of keys) while (!key.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const found = new Map<string, ObjectInfo>();
  for await (const info of list(prefix)) if (keys.includes(info.key)) found.set(info.key, info);
  return keys.flatMap((key) => found.get(key) ?? []);
}
