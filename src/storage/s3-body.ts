// Bodies of S3 requests and answers: a download that ends early, runs long or stalls is an error, never EOF;
// an upload is held in memory up to one part (one PUT) and streamed beyond it.
import type * as http from "node:http";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { TransientStorageError } from "../errors.js";
import { storageError } from "./s3-errors.js";

/** Passes the body on and errors out when it ends before `expected` bytes (or runs past them). Both S3 stores use it. */
export class LengthCheck extends Transform {
  /** Bytes passed on so far. */
  seen = 0;

  constructor(
    private readonly expected: number | undefined,
    private readonly what: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.expected !== undefined && this.seen !== this.expected) {
      done(new TransientStorageError(`${this.what} ended after ${this.seen} of ${this.expected} bytes`));
    } else done();
  }
}

/**
 * The body of a node:http answer as the caller reads it: LengthCheck, and an error if the connection drops
 * or stalls: a cut connection must never look like EOF.
 */
export function guardedBody(response: http.IncomingMessage, expected: number | undefined, what: string): Readable {
  const wrap = (error: unknown) => storageError(error, `reading ${what} failed`);
  const guard = new LengthCheck(expected, what);
  response.once("error", (error) => guard.destroy(wrap(error)));
  response.once("close", () => {
    if (!response.complete) guard.destroy(wrap(new Error(`connection closed after ${guard.seen} of ${expected ?? "?"} bytes`)));
  });
  // A reader that gives up early must not leave the connection half-read.
  guard.once("close", () => {
    if (!response.complete) response.destroy();
  });
  return response.pipe(guard);
}

/** The whole (small) body of a LIST page or an error answer. */
export function readText(response: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    response.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.once("error", reject);
    response.once("close", () => {
      if (!response.complete) reject(new Error("connection closed before the answer was complete"));
    });
  });
}

interface Buffered {
  readonly chunks: Buffer[];
  readonly size: number;
  /** The rest of the stream when it holds more than the limit. */
  readonly more?: AsyncIterator<Buffer>;
}

/** Reads the stream until it ends or holds more than `limit` bytes. */
export async function bufferUpTo(body: Readable, limit: number): Promise<Buffered> {
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { chunks, size };
    chunks.push(next.value);
    size += next.value.length;
    if (size > limit) return { chunks, size, more: iterator };
  }
}

/** What bufferUpTo read, then the rest of the stream. */
export async function* chained(head: Buffer[], rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* head;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}
