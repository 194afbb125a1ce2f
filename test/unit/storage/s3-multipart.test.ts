// The S3 writer against a fake client that records every command and can fail the Nth one: single PUT,
// multipart with bounded parts in flight, abort on any failure, and ETag checks.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { S3Location } from "../../../src/config.js";
import { writeObject } from "../../../src/storage/s3-multipart.js";
import { ObjectExistsError, type WriteOptions } from "../../../src/storage/storage.js";

const PART = 1024;

const LOCATION: S3Location = {
  kind: "s3",
  bucket: "bucket",
  root: "root/",
  region: "us-east-1",
  forcePathStyle: true,
  storageClass: "STANDARD",
  checksumWhenRequired: true,
  maxRetries: 0,
  partSize: PART,
  requestTimeoutMs: 1000,
};

type Sent = PutObjectCommand | CreateMultipartUploadCommand | UploadPartCommand | CompleteMultipartUploadCommand | AbortMultipartUploadCommand;
type Reply = Record<string, unknown>;

const md5 = (bytes: Buffer | Uint8Array): string => `"${createHash("md5").update(bytes).digest("hex")}"`;

/** Answers like S3 (ETag = MD5 of the body); `fail` names the 1-based command that throws; `reply` overrides answers. */
class FakeS3 {
  readonly sent: Sent[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly options: { fail?: number; error?: Error; reply?: (command: Sent) => Reply | undefined } = {}) {}

  async send(command: Sent): Promise<Reply> {
    this.sent.push(command);
    const number = this.sent.length;
    const isPart = command instanceof UploadPartCommand;
    if (isPart) this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      // Let other parts start, so the test sees how many the writer keeps in flight.
      await new Promise((resolve) => setImmediate(resolve));
      if (number === this.options.fail) throw this.options.error ?? s3Error("InternalError", 500);
      return this.options.reply?.(command) ?? defaultReply(command);
    } finally {
      if (isPart) this.inFlight -= 1;
    }
  }

  names(): string[] {
    return this.sent.map((command) => command.constructor.name);
  }

  parts(): UploadPartCommand[] {
    return this.sent.filter((command): command is UploadPartCommand => command instanceof UploadPartCommand);
  }
}

function defaultReply(command: Sent): Reply {
  if (command instanceof PutObjectCommand || command instanceof UploadPartCommand) return { ETag: md5(command.input.Body as Buffer) };
  if (command instanceof CreateMultipartUploadCommand) return { UploadId: "upload-1" };
  return {};
}

function s3Error(name: string, status: number): Error {
  return Object.assign(new Error(`${name} from the fake`), { name, $metadata: { httpStatusCode: status } });
}

function bytes(size: number, seed = 7): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** The body in uneven chunks, so parts never line up with what the stream delivers. */
function chunked(body: Buffer, size = 333): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) chunks.push(body.subarray(at, at + size));
  return Readable.from(chunks);
}

function write(client: FakeS3, body: Readable, options: WriteOptions = {}) {
  return writeObject(client as unknown as S3Client, LOCATION, "root/wal_005/X.lz4", "wal_005/X.lz4", body, options);
}

describe("S3 writer", () => {
  it("sends a small body as one PUT with its length, metadata and If-None-Match", async () => {
    const client = new FakeS3();
    const body = bytes(PART - 1);
    const info = await write(client, chunked(body), { metadata: { "walnative-sha256": "abc" }, ifAbsent: true });
    expect(client.names()).toEqual(["PutObjectCommand"]);
    const put = client.sent[0] as PutObjectCommand;
    expect(put.input).toMatchObject({ Bucket: "bucket", Key: "root/wal_005/X.lz4", ContentLength: PART - 1, IfNoneMatch: "*" });
    expect(put.input.Metadata).toEqual({ "walnative-sha256": "abc" });
    expect(Buffer.from(put.input.Body as Buffer).equals(body)).toBe(true);
    expect(info).toEqual({ key: "wal_005/X.lz4", size: PART - 1 });
  });

  it("sends an empty body and a body of exactly one part as one PUT", async () => {
    for (const size of [0, PART]) {
      const client = new FakeS3();
      expect((await write(client, chunked(bytes(size)))).size).toBe(size);
      expect(client.names()).toEqual(["PutObjectCommand"]);
    }
  });

  it("switches to multipart at one part plus one byte", async () => {
    const client = new FakeS3();
    await write(client, chunked(bytes(PART + 1)));
    expect(client.names()).toEqual(["CreateMultipartUploadCommand", "UploadPartCommand", "UploadPartCommand", "CompleteMultipartUploadCommand"]);
    expect(client.parts().map((part) => (part.input.Body as Buffer).length)).toEqual([PART, 1]);
  });

  it("uploads a large body in numbered parts, at most two in flight, and completes with every ETag in order", async () => {
    const client = new FakeS3();
    const body = bytes(5 * PART + 100);
    const info = await write(client, chunked(body), { metadata: { a: "b" }, ifAbsent: true });
    expect(info.size).toBe(body.length);
    const create = client.sent[0] as CreateMultipartUploadCommand;
    expect(create.input).toMatchObject({ Key: "root/wal_005/X.lz4", Metadata: { a: "b" } });
    const parts = client.parts();
    expect(parts.map((part) => part.input.PartNumber)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(parts.every((part) => part.input.UploadId === "upload-1")).toBe(true);
    expect(Buffer.concat(parts.map((part) => part.input.Body as Buffer)).equals(body)).toBe(true);
    expect(client.maxInFlight).toBe(2);
    const complete = client.sent.at(-1) as CompleteMultipartUploadCommand;
    expect(complete).toBeInstanceOf(CompleteMultipartUploadCommand);
    expect(complete.input.IfNoneMatch).toBe("*");
    expect(complete.input.MultipartUpload?.Parts).toEqual(
      parts.map((part) => ({ PartNumber: part.input.PartNumber, ETag: md5(part.input.Body as Buffer) })),
    );
  });

  it("aborts the upload and rejects when a part fails", async () => {
    const client = new FakeS3({ fail: 3 }); // create, part 1, part 2 (fails)
    await expect(write(client, chunked(bytes(4 * PART)))).rejects.toThrow(/InternalError from the fake/);
    const abort = client.sent.at(-1) as AbortMultipartUploadCommand;
    expect(abort).toBeInstanceOf(AbortMultipartUploadCommand);
    expect(abort.input).toEqual({ Bucket: "bucket", Key: "root/wal_005/X.lz4", UploadId: "upload-1" });
    expect(client.names()).not.toContain("CompleteMultipartUploadCommand");
  });

  it("aborts the upload and rejects when completing fails", async () => {
    const client = new FakeS3({ fail: 4 }); // create, part 1, part 2, complete (fails)
    await expect(write(client, chunked(bytes(2 * PART)))).rejects.toThrow(/InternalError/);
    expect(client.names().at(-1)).toBe("AbortMultipartUploadCommand");
  });

  it("aborts the upload and rejects when the source stream breaks midway", async () => {
    const client = new FakeS3();
    const source = new Readable({ read() {} });
    source.push(bytes(3 * PART));
    setImmediate(() => source.destroy(new Error("source broke")));
    await expect(write(client, source)).rejects.toThrow(/source broke/);
    expect(client.names().at(-1)).toBe("AbortMultipartUploadCommand");
    expect(client.names()).not.toContain("CompleteMultipartUploadCommand");
  });

  it("rejects a part answered without an ETag, and aborts", async () => {
    const client = new FakeS3({ reply: (command) => (command instanceof UploadPartCommand && command.input.PartNumber === 2 ? {} : undefined) });
    await expect(write(client, chunked(bytes(3 * PART)))).rejects.toThrow(/part 2 of 'wal_005\/X.lz4' has no ETag/);
    expect(client.names().at(-1)).toBe("AbortMultipartUploadCommand");
  });

  it("rejects a single PUT answered without an ETag", async () => {
    const client = new FakeS3({ reply: () => ({}) });
    await expect(write(client, chunked(bytes(10)))).rejects.toThrow(/upload of 'wal_005\/X.lz4' was not confirmed \(no ETag\)/);
  });

  it("rejects a single PUT whose ETag is not the body's MD5", async () => {
    const client = new FakeS3({ reply: () => ({ ETag: md5(Buffer.from("something else")) }) });
    await expect(write(client, chunked(bytes(10)))).rejects.toThrow(/ETag .* does not match the body's MD5/);
  });

  it("turns a refused conditional PUT (412) into ObjectExistsError", async () => {
    const client = new FakeS3({ fail: 1, error: s3Error("PreconditionFailed", 412) });
    await expect(write(client, chunked(bytes(10)), { ifAbsent: true })).rejects.toBeInstanceOf(ObjectExistsError);
  });

  it("turns a refused conditional complete (412) into ObjectExistsError after aborting", async () => {
    const client = new FakeS3({ fail: 4, error: s3Error("PreconditionFailed", 412) });
    await expect(write(client, chunked(bytes(2 * PART)), { ifAbsent: true })).rejects.toBeInstanceOf(ObjectExistsError);
    expect(client.names().at(-1)).toBe("AbortMultipartUploadCommand");
  });
});
