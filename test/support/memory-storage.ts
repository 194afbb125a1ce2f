// In-memory Storage for in-process command tests; honours ifAbsent like S3's If-None-Match.
import { Readable } from "node:stream";
import { NotFoundError } from "../../src/errors.js";
import {
  type ObjectInfo,
  ObjectExistsError,
  type OpenedObject,
  type Storage,
  type WriteBody,
  type WriteOptions,
  resolveMetadata,
} from "../../src/storage/storage.js";

export class MemoryStorage implements Storage {
  readonly label = "memory://test/";
  readonly objects = new Map<string, { body: Buffer; metadata: Record<string, string> }>();
  writes = 0;

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const object = this.objects.get(key);
    return object ? { key, size: object.body.length, metadata: object.metadata } : undefined;
  }

  async read(key: string): Promise<Readable> {
    return (await this.open(key)).body;
  }

  async open(key: string): Promise<OpenedObject> {
    const object = this.objects.get(key);
    if (!object) throw new NotFoundError(key, this.label);
    return { info: { key, size: object.body.length, metadata: object.metadata }, body: Readable.from([object.body]) };
  }

  async write(key: string, body: WriteBody, options: WriteOptions = {}): Promise<ObjectInfo> {
    const chunks: Buffer[] = [];
    for await (const chunk of Buffer.isBuffer(body) ? [body] : body) chunks.push(chunk as Buffer);
    if (options.ifAbsent && this.objects.has(key)) throw new ObjectExistsError(key);
    this.writes += 1;
    const stored = Buffer.concat(chunks);
    this.objects.set(key, { body: stored, metadata: { ...(resolveMetadata(options) ?? {}) } });
    return { key, size: stored.length };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for (const key of [...this.objects.keys()].sort()) {
      if (key.startsWith(prefix)) yield { key, size: this.objects.get(key)?.body.length ?? 0 };
    }
  }

  async statAll(keys: readonly string[]): Promise<ObjectInfo[]> {
    const found = await Promise.all(keys.map((key) => this.stat(key)));
    return found.filter((info): info is ObjectInfo => info !== undefined).map(({ key, size }) => ({ key, size }));
  }

  async remove(key: string): Promise<void> {
    this.objects.delete(key);
  }
}
