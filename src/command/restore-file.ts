// Get one WAL file out of the archive and publish it verified: find the object, decompress, check
// header, size, checksum and system identifier, fsync, rename. Shared by wal-restore and the prefetcher.
import { createReadStream } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type { Logger } from "../log.js";
import { pipeline } from "node:stream/promises";
import { CorruptDataError, LocalFileError, NotFoundError } from "../errors.js";
import { type CodecName, loadCodec } from "../compress/codec.js";
import type { WalFileName } from "../wal/file-name.js";
import { LONG_HEADER_SIZE, checkSegmentHeader, readSegmentHeader } from "../wal/segment-check.js";
import { candidateKeys, walKey } from "../wal/archive-keys.js";
import type { OpenedObject, Storage } from "../storage/storage.js";
import { isCode, syncDirectory } from "../storage/fs.js";
import { Inspector, fileHandleSink } from "../io/streams.js";
import { META_SHA256 } from "./push.js";

export interface Expectation {
  readonly file: WalFileName;
  /** From the cluster's pg_control, when known: a segment of another system is refused. */
  readonly systemId?: bigint;
  readonly sha256?: string;
}

/**
 * The configured method's key first (one GET in the usual case), then one listing of every
 * extension wal-g could have used, in wal-g's order. Absent everywhere: NotFoundError.
 */
export async function downloadVerified(
  storage: Storage,
  destination: string,
  expect: Expectation,
  preferred: CodecName,
  signal?: AbortSignal,
): Promise<number> {
  const name = expect.file.name;
  let codec: CodecName = preferred;
  let object: OpenedObject;
  try {
    object = await storage.open(walKey(name, preferred), signal);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    const candidates = candidateKeys(name);
    const [found] = await storage.statAll(candidates.map((candidate) => candidate.key), signal);
    if (!found) throw new NotFoundError(name, storage.label);
    codec = candidates.find((candidate) => candidate.key === found.key)?.codec ?? "none";
    object = await storage.open(found.key, signal);
  }
  const decompress = (await loadCodec(codec)).decompress();
  return writeVerified(object.body, destination, { ...expect, sha256: object.info.metadata?.[META_SHA256] }, [decompress]);
}

/**
 * Streams into a temporary file beside the destination, checks it, fsyncs and renames. On any
 * failure the temporary file is removed and the destination is never created.
 */
export async function writeVerified(
  input: Readable,
  destination: string,
  expect: Expectation,
  stages: NodeJS.ReadWriteStream[] = [],
): Promise<number> {
  const temp = join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString("hex")}.tmp`);
  const inspector = new Inspector(LONG_HEADER_SIZE);
  try {
    const handle = await open(temp, "wx", 0o600).catch((error: unknown) => {
      throw new LocalFileError(`cannot create '${temp}': ${(error as Error).message}`, error);
    });
    try {
      await pipeline([input, ...stages, inspector, fileHandleSink(handle)]);
      verify(inspector, expect);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, destination);
    await syncDirectory(dirname(destination)).catch(() => undefined);
    return inspector.bytes;
  } catch (error) {
    input.destroy();
    await unlink(temp).catch(() => undefined);
    if (isCode(error, "ENOSPC") || isCode(error, "EDQUOT")) {
      throw new LocalFileError(`no space left to restore ${expect.file.name} to '${destination}'`, error);
    }
    throw error;
  }
}

function verify(inspector: Inspector, expect: Expectation): void {
  const { file } = expect;
  const label = file.name;
  if (inspector.bytes === 0) throw new CorruptDataError(`${label} is empty in the archive`);
  if (expect.sha256 && inspector.digest() !== expect.sha256) {
    throw new CorruptDataError(`${label}: content does not match the SHA-256 recorded when it was archived`);
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

/** A copy from the local fast-recovery archive, verified like a download; undefined when absent or damaged. */
export async function fromLocalArchive(dir: string, destination: string, expect: Expectation, log: Pick<Logger, "warn">): Promise<number | undefined> {
  let input: Readable;
  try {
    input = createReadStream("", { fd: await open(join(dir, expect.file.name), "r"), highWaterMark: 1024 * 1024 });
  } catch {
    return undefined;
  }
  try {
    return await writeVerified(input, destination, expect);
  } catch (error) {
    // A damaged local copy is not fatal: storage holds the authoritative one.
    log.warn(`ignoring the local copy of ${expect.file.name}: ${(error as Error).message}`);
    return undefined;
  }
}
