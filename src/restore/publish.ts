// Publishing a restored WAL file: nothing appears under its final name unless its content verified (size, header
// against the name, recorded checksum, system identifier). A temporary file beside the destination, filled and
// checked, fsynced when durable, renamed into place; on any failure it is removed. Shared by downloads and the
// local archive's copies.
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CorruptDataError, LocalFileError } from "../errors.js";
import type { WalFileName } from "../wal/file-name.js";
import { LONG_HEADER_SIZE, checkSegmentHeader, readSegmentHeader } from "../wal/segment-check.js";
import { isCode, syncDirectory, writeInSlices } from "../io/fs.js";
import { HashingTap, fileHandleSink } from "../io/streams.js";
import { type ContentDigest, digestLabel, digestOf } from "../io/content-digest.js";

export interface Expectation {
  readonly file: WalFileName;
  /** From the cluster's pg_control, when known: a segment of another system is refused. */
  readonly systemId?: bigint;
  /** Recorded in the object's metadata when we archived it (wal-g records none). */
  readonly digest?: ContentDigest;
}

export interface PublishOptions {
  /**
   * fsync the file (and its directory) before and after the rename. Not for PostgreSQL's own
   * calls: it fsyncs what it keeps (durable_rename in KeepFileRestoredFromArchive) and asks again
   * after a crash; the prefetch worker's unsynced files are only served within the same boot.
   */
  readonly durable: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Checks a whole decoded file and publishes it like writeVerified: temporary file beside the
 * destination, written in slices (io/fs.ts WRITE_SLICE), rename. Nothing is created under the final name unless it verified.
 */
export async function publishVerified(content: Buffer, destination: string, expect: Expectation, options: PublishOptions): Promise<number> {
  verify(
    {
      bytes: content.length,
      digest: () => digestOf(content, expect.digest?.algorithm).hex,
      firstBytes: () => content.subarray(0, LONG_HEADER_SIZE),
    },
    expect,
  );
  return publishThrough(destination, expect, options, async (handle) => {
    await writeInSlices(handle, content);
    return content.length;
  });
}

/**
 * The publication protocol of both writers: a temporary file beside the destination, filled (and checked)
 * by `fill`, fsynced when durable, renamed into place. On any failure the temporary file is removed and the
 * destination is never created.
 */
async function publishThrough(
  destination: string, expect: Expectation, options: PublishOptions, fill: (handle: FileHandle) => Promise<number>,
): Promise<number> {
  const temp = tempPathFor(destination);
  try {
    const handle = await open(temp, "wx", 0o600).catch((error: unknown) => {
      throw new LocalFileError(`cannot create '${temp}': ${(error as Error).message}`, error);
    });
    let bytes: number;
    try {
      bytes = await fill(handle);
      if (options.durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, destination);
    if (options.durable) await syncDirectory(dirname(destination)).catch(() => undefined);
    return bytes;
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw asLocalFileError(error, expect, destination);
  }
}

function tempPathFor(destination: string): string {
  return join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString("hex")}.tmp`);
}

function asLocalFileError(error: unknown, expect: Expectation, destination: string): unknown {
  if (isCode(error, "ENOSPC") || isCode(error, "EDQUOT")) {
    return new LocalFileError(`no space left to restore ${expect.file.name} to '${destination}'`, error);
  }
  return error;
}

/** Streams into a temporary file beside the destination, checks it and publishes it (publishThrough). */
export async function writeVerified(
  input: Readable,
  destination: string,
  expect: Expectation,
  stages: NodeJS.ReadWriteStream[],
  options: PublishOptions,
): Promise<number> {
  const inspector = new HashingTap(LONG_HEADER_SIZE, expect.digest?.algorithm);
  try {
    return await publishThrough(destination, expect, options, async (handle) => {
      await pipeline([input, ...stages, inspector, fileHandleSink(handle)]);
      verify(inspector, expect);
      return inspector.bytes;
    });
  } catch (error) {
    input.destroy();
    throw error;
  }
}

interface Inspected {
  readonly bytes: number;
  digest(): string;
  firstBytes(): Buffer;
}

function verify(inspector: Inspected, expect: Expectation): void {
  const { file } = expect;
  const label = file.name;
  if (inspector.bytes === 0) throw new CorruptDataError(`${label} is empty in the archive`);
  if (expect.digest && inspector.digest() !== expect.digest.hex) {
    throw new CorruptDataError(`${label}: content does not match the checksum (${digestLabel(expect.digest.algorithm)}) recorded when it was archived`);
  }
  if (!file.segment || (file.kind !== "segment" && file.kind !== "partial")) return;
  const header = readSegmentHeader(inspector.firstBytes(), label);
  checkSegmentHeader(header, file.segment, inspector.bytes, label);
  if (expect.systemId !== undefined && header.systemIdentifier !== expect.systemId) {
    throw new CorruptDataError(
      `${label} belongs to database system ${header.systemIdentifier}, not to this cluster (${expect.systemId})`,
      { hint: "the archive prefix holds another cluster's WAL; check WALG_S3_PREFIX / WALG_FILE_PREFIX" },
    );
  }
}
