// Stream helpers shared by the codecs: a Transform that honours backpressure inside a chunk, and typed errors for zlib.
import { Transform } from "node:stream";
import type { TransformCallback } from "node:stream";
import { CorruptDataError, WalNativeError } from "../errors.js";

/**
 * Makes a zlib decoder report bad input as CorruptDataError. zlib streams fail through destroy(error) (Node
 * lib/zlib.js zlibOnError); errors that others destroy the stream with (a pipeline abort, a network error
 * upstream) carry other codes and pass through unchanged.
 */
export function reportAsCorrupt<T extends Transform>(stream: T, format: string): T {
  const destroy = stream.destroy.bind(stream);
  stream.destroy = (error?: Error) => destroy(isZlibError(error) ? asCorrupt(error, format) : error);
  return stream;
}

/** zlib and brotli engine errors: a numeric errno and a code like Z_BUF_ERROR or ERR__ERROR_FORMAT_PADDING_1. */
function isZlibError(error: Error | undefined): error is Error {
  const { errno, code } = (error ?? {}) as { errno?: unknown; code?: unknown };
  return typeof errno === "number" && typeof code === "string" && /^(Z_|ERR_)/.test(code);
}

export function asCorrupt(error: unknown, format: string): WalNativeError {
  if (error instanceof WalNativeError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new CorruptDataError(`${format} data is corrupt or truncated: ${detail}`, { cause: error });
}

class Destroyed extends Error {}

export abstract class PacedTransform extends Transform {
  private waiting: (() => void) | undefined;

  /** Handle one input chunk; output goes through send(). */
  protected abstract consume(chunk: Buffer): Promise<void> | void;
  /** End of input: emit what is left, throw if the input was incomplete. */
  protected abstract finish(): Promise<void> | void;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.settle(async () => this.consume(chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.settle(async () => this.finish(), callback);
  }

  /**
   * Push and, when the readable buffer is full, wait until it is read. A plain Transform only waits between
   * chunks, so one small chunk that expands to gigabytes (1 GiB of zeros) would sit in memory at once.
   */
  protected async send(data: Buffer): Promise<void> {
    if (data.length === 0 || this.push(data)) return;
    if (!this.destroyed) {
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
    if (this.destroyed) throw new Destroyed();
  }

  override _read(size: number): void {
    this.wake();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.wake();
    super._destroy(error, callback);
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }

  private settle(step: () => Promise<void>, callback: TransformCallback): void {
    step().then(
      () => callback(),
      (error: unknown) => {
        // After destroy the error is already decided; like zlib, just release the write.
        if (this.destroyed) callback();
        else callback(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }
}
