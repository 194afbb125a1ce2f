// WAL file name value types: segment, partial, history and backup history files.
// Grammar: PostgreSQL's xlog_internal.h (XLogFileName, IsXLogFileName, IsTLHistoryFileName, ...).
import { InvalidWalNameError } from "../errors.js";

export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;
/** The smallest segment size PostgreSQL allows (initdb --wal-segsize=1): a name valid for it may be valid. The header gives the real one. */
export const MIN_SEGMENT_SIZE = 1024 * 1024;
const HEX24 = /^[0-9A-F]{24}$/;

export type WalFileKind = "segment" | "partial" | "history" | "backup";

function hex8(value: number): string {
  return value.toString(16).toUpperCase().padStart(8, "0");
}

export function segmentsPerLog(segmentSize: number): number {
  return 0x1_0000_0000 / segmentSize;
}

export class WalSegment {
  constructor(
    readonly timeline: number,
    readonly log: number,
    readonly seg: number,
  ) {}

  /** Accepts exactly 24 uppercase hex digits, as PostgreSQL writes them. */
  static parse(name: string, segmentSize = DEFAULT_SEGMENT_SIZE): WalSegment {
    if (!HEX24.test(name)) throw new InvalidWalNameError(name, "a segment name is 24 uppercase hex digits");
    const segment = WalSegment.fromHex(name);
    if (segment.timeline === 0) throw new InvalidWalNameError(name, "timeline 0 does not exist");
    if (segment.seg >= segmentsPerLog(segmentSize)) {
      throw new InvalidWalNameError(name, `segment number too large for ${segmentSize / 1048576} MiB segments`);
    }
    return segment;
  }

  /**
   * wal-g's ParseWALFilename (internal/databases/postgres/timeline.go): 24 hex digits in either case, timeline 0
   * allowed, undefined instead of an error. Deliberately more lenient than parse (PostgreSQL's own names), for
   * reading what the archive holds: wal-verify must count the objects wal-g counts, odd names included.
   */
  static parseLikeWalg(name: string, segmentSize: number): WalSegment | undefined {
    if (!/^[0-9A-Fa-f]{24}$/.test(name)) return undefined;
    const segment = WalSegment.fromHex(name);
    return segment.seg < segmentsPerLog(segmentSize) ? segment : undefined;
  }

  private static fromHex(name: string): WalSegment {
    return new WalSegment(
      Number.parseInt(name.slice(0, 8), 16),
      Number.parseInt(name.slice(8, 16), 16),
      Number.parseInt(name.slice(16, 24), 16),
    );
  }

  static fromSegmentNumber(timeline: number, segNo: bigint, segmentSize: number): WalSegment {
    const perLog = BigInt(segmentsPerLog(segmentSize));
    return new WalSegment(timeline, Number(segNo / perLog), Number(segNo % perLog));
  }

  segmentNumber(segmentSize: number): bigint {
    return BigInt(this.log) * BigInt(segmentsPerLog(segmentSize)) + BigInt(this.seg);
  }

  /** LSN of the segment's first byte. */
  startLsn(segmentSize: number): bigint {
    return this.segmentNumber(segmentSize) * BigInt(segmentSize);
  }

  next(segmentSize: number): WalSegment {
    return WalSegment.fromSegmentNumber(this.timeline, this.segmentNumber(segmentSize) + 1n, segmentSize);
  }

  toString(): string {
    return hex8(this.timeline) + hex8(this.log) + hex8(this.seg);
  }
}

export interface WalFileName {
  readonly kind: WalFileKind;
  /** The name exactly as PostgreSQL passes it in %f. */
  readonly name: string;
  /** Set for segments, partial segments and backup history files. */
  readonly segment?: WalSegment;
  /** Set for history files. */
  readonly timeline?: number;
}

/**
 * Parses what PostgreSQL passes as %f. Anything else (separators, "..", absolute paths, lowercase
 * hex, trailing junk) is refused: the name becomes part of an object key and a local path.
 */
export function parseWalFileName(name: string, segmentSize = DEFAULT_SEGMENT_SIZE): WalFileName {
  if (name.length === 0) throw new InvalidWalNameError(name, "empty");
  if (name.includes("/") || name.includes("\\") || name.includes("\0")) {
    throw new InvalidWalNameError(name, "must be a bare file name without directory separators");
  }
  if (HEX24.test(name)) return { kind: "segment", name, segment: WalSegment.parse(name, segmentSize) };
  let match = /^([0-9A-F]{8})\.history$/.exec(name);
  if (match?.[1]) {
    const timeline = Number.parseInt(match[1], 16);
    if (timeline === 0) throw new InvalidWalNameError(name, "timeline 0 does not exist");
    return { kind: "history", name, timeline };
  }
  match = /^([0-9A-F]{24})\.partial$/.exec(name);
  if (match?.[1]) return { kind: "partial", name, segment: WalSegment.parse(match[1], segmentSize) };
  match = /^([0-9A-F]{24})\.[0-9A-F]{8}\.backup$/.exec(name);
  if (match?.[1]) return { kind: "backup", name, segment: WalSegment.parse(match[1], segmentSize) };
  throw new InvalidWalNameError(name, "unrecognised form");
}

/** Whether PostgreSQL could pass this name as %f (parseWalFileName accepts it for some segment size). */
export function isWalFileName(name: string): boolean {
  try {
    parseWalFileName(name, MIN_SEGMENT_SIZE);
    return true;
  } catch {
    return false;
  }
}

export function isSegmentName(name: string): boolean {
  return HEX24.test(name);
}

/** The history file that timeline `timeline` starts with (PostgreSQL's TLHistoryFileName). */
export function historyName(timeline: number): string {
  return `${hex8(timeline)}.history`;
}
