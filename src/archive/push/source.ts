// The file PostgreSQL asks to archive: checked against its name before anything is sent, read whole into a
// reused buffer, and its checksum computed at most once per algorithm.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { CorruptDataError, ExitCode, LocalFileError } from "../../errors.js";
import type { WalFileName } from "../../wal/file-name.js";
import { LONG_HEADER_SIZE, checkSegmentHeader, readSegmentHeader } from "../../wal/segment-check.js";
import { digestOfStream } from "../../io/streams.js";
import type { ContentDigest, DigestAlgorithm } from "../../io/content-digest.js";

export interface SourceFacts {
  readonly size: number;
  /** The file's checksum (hex), read on first use only (a duplicate to compare, a multipart upload). */
  readonly digest: (algorithm: DigestAlgorithm) => Promise<string>;
  /** Saves digest() a second read when the upload already hashed the file. */
  readonly knowDigest: (digest: ContentDigest) => void;
  readonly systemId?: bigint;
  readonly path: string;
  /** A segment's first LSN, from its header: the failover-duplicate rule parses its WAL records. */
  readonly startLsn?: bigint;
  /** The header page that was checked against the name (segments). */
  readonly head?: Buffer;
}

/** Refuses what PostgreSQL would never archive: empty files, segments whose header disagrees with the name. */
export async function inspectSource(sourcePath: string, file: WalFileName): Promise<SourceFacts> {
  const handle = await open(sourcePath, "r").catch((error: unknown) => {
    throw new LocalFileError(`cannot open '${sourcePath}' for ${file.name}: ${(error as Error).message}`, error, ExitCode.noInput);
  });
  let size: number;
  let systemId: bigint | undefined;
  let startLsn: bigint | undefined;
  let head: Buffer | undefined;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new LocalFileError(`'${sourcePath}' is not a regular file`, undefined, ExitCode.noInput);
    size = info.size;
    if (size === 0) throw new CorruptDataError(`'${sourcePath}' is empty; refusing to archive ${file.name}`);
    if (file.segment && (file.kind === "segment" || file.kind === "partial")) {
      const page = Buffer.alloc(LONG_HEADER_SIZE);
      const { bytesRead } = await handle.read(page, 0, LONG_HEADER_SIZE, 0);
      head = page.subarray(0, bytesRead);
      const header = readSegmentHeader(head, file.name);
      checkSegmentHeader(header, file.segment, size, file.name);
      systemId = header.systemIdentifier;
      if (file.kind === "segment") startLsn = header.pageAddress;
    }
  } finally {
    await handle.close();
  }
  const digests = new Map<DigestAlgorithm, Promise<string>>();
  const digest = (algorithm: DigestAlgorithm) => {
    let known = digests.get(algorithm);
    if (!known) {
      known = digestOfStream(createReadStream(sourcePath, { highWaterMark: 256 * 1024 }), algorithm);
      digests.set(algorithm, known);
    }
    return known;
  };
  const knowDigest = (known: ContentDigest) => {
    if (!digests.has(known.algorithm)) digests.set(known.algorithm, Promise.resolve(known.hex));
  };
  return { size, digest, knowDigest, systemId, path: sourcePath, startLsn, head };
}

/**
 * Segment buffers are reused across the uploads of one call: a fresh 16 MiB buffer per file is only freed
 * when V8 collects, and until then each counts in the process's resident memory.
 */
const spareBuffers: Buffer[] = [];
function takeBuffer(size: number): Buffer {
  const index = spareBuffers.findIndex((buffer) => buffer.length === size);
  return index >= 0 ? spareBuffers.splice(index, 1)[0]! : Buffer.allocUnsafeSlow(size);
}

/** Gives a buffer of readWhole back for the next file. */
export function releaseBuffer(buffer: Buffer): void {
  if (spareBuffers.length < 4) spareBuffers.push(buffer);
}

/** Exactly size bytes: a file that changed size since inspectSource is not what was checked. */
export async function readWhole(source: SourceFacts): Promise<Buffer> {
  const handle = await open(source.path, "r");
  try {
    const data = takeBuffer(source.size);
    let filled = 0;
    while (filled < data.length) {
      const { bytesRead } = await handle.read(data, filled, data.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const { size } = await handle.stat();
    // The bytes uploaded must be the ones whose header was checked: a file recycled by PostgreSQL in between
    // (possible only when archiving was switched off meanwhile) must not go out under this name.
    const sameHead = source.head === undefined || data.subarray(0, source.head.length).equals(source.head);
    if (filled !== source.size || size !== source.size || !sameHead) {
      releaseBuffer(data);
      throw new LocalFileError(`'${source.path}' changed while being archived (${source.size} -> ${size} bytes)`, undefined, ExitCode.tempFailure);
    }
    return data;
  } finally {
    await handle.close();
  }
}
