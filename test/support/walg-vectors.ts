// The golden vectors wal-g v3.0.9 wrote (test/fixtures/walg-v3.0.9, made by scripts/vectors-walg.mjs): the
// manifest's types, loading, and the settings a vector needs to be read back (test keys resolved).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { xxh32 } from "@node-rs/xxhash";
import { DEFAULT_SEGMENT_NAME, defaultSizeSegment } from "../../scripts/walg-vector-segment.mjs";
import { decodeBlock } from "../../src/compress/lz4-frame.js";
import { REPO_ROOT } from "./paths.js";

export const VECTORS_DIR = join(REPO_ROOT, "test", "fixtures", "walg-v3.0.9");

export type WalKind = "segment" | "history" | "partial" | "backup";
export type Method = "lz4" | "brotli" | "zstd" | "lzma" | "none";

export interface Encryption {
  readonly type: "libsodium" | "pgp";
  /** libsodium: WALG_LIBSODIUM_KEY_TRANSFORM. */
  readonly transform?: "none" | "hex" | "base64";
  /** libsodium: the key itself; pgp: the fixture file holding the armored key (given inline as WALG_PGP_KEY). */
  readonly key?: string;
  /** The fixture file given as WALG_LIBSODIUM_KEY_PATH or WALG_PGP_KEY_PATH. */
  readonly keyPath?: string;
  readonly passphrase?: string;
  readonly note?: string;
}

export interface WalVector {
  /** "<variant>/<kind>", e.g. "lz4/segment", "libsodium-hex-lz4/history". */
  readonly id: string;
  readonly kind: WalKind;
  readonly method: Method;
  readonly encryption?: Encryption;
  /** Fixture paths, relative to VECTORS_DIR; a default-size vector's input is "<generated>/<name>" (see inputOf). */
  readonly input: string;
  readonly object: string;
  /** Where wal-g put the object in its store, e.g. "wal_005/000000010000000000000003.lz4". */
  readonly key: string;
  /** False when wal-g's output is randomised (encryption nonces and session keys). */
  readonly deterministic: boolean;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export interface BucketObject {
  readonly key: string;
  /** Whole seconds since the epoch: the mtime wal-g saw (backup-list prints the sentinel's). */
  readonly mtime: number;
  /** WAL objects: the content wal-g wal-fetch gave back. */
  readonly plainSha256?: string;
  readonly plainSize?: number;
}

export interface WalgOutput {
  readonly file: string;
  readonly command: readonly string[];
  /** The output was taken with this object removed from the bucket. */
  readonly without?: string;
}

/** Where wal-g put each kind of file (lz4) for one prefix setting. */
export interface Layout {
  readonly storage: "s3" | "file";
  /** As given to wal-g: S3 with the bucket "walg-layout", FILE with "<dir>" for the store's directory. */
  readonly prefix: string;
  /** Further settings, e.g. WALG_STORAGE_PREFIX. */
  readonly settings: Readonly<Record<string, string>>;
  /** S3: keys within the bucket; FILE: paths below the directory. */
  readonly keys: readonly string[];
  /** S3: every request wal-g sent ("PUT /walg-layout/wal_005/...", sorted), and its PUT's headers (no signature). */
  readonly requests?: readonly string[];
  readonly putHeaders?: Readonly<Record<string, string>>;
}

/** Segments of wal-g's default size, 16 MiB, pushed with WALG_PG_WAL_SIZE unset; their input is regenerated. */
export interface DefaultSize {
  readonly note: string;
  readonly walSegmentSizeMb: number;
  /** The input scripts/walg-vector-segment.mjs regenerates (`recipe`), with the SHA-256 wal-g was given. */
  readonly input: { readonly name: string; readonly size: number; readonly sha256: string; readonly recipe: string };
  readonly vectors: readonly WalVector[];
}

export interface Manifest {
  readonly format: number;
  readonly walg: { readonly version: string; readonly buildTags: readonly string[] };
  /** The segment size of the vectors in `wal` (not of `defaultSize`). */
  readonly walSegmentSizeMb: number;
  readonly wal: readonly WalVector[];
  readonly defaultSize: DefaultSize;
  readonly layout: readonly Layout[];
  readonly bucket: {
    readonly store: string;
    readonly cluster: {
      readonly timeline: number; readonly lsn: string; readonly systemIdentifier: string;
      readonly pgVersion: number; readonly walSegmentSizeMb: number;
    };
    readonly env: Readonly<Record<string, string>>;
    readonly backups: ReadonlyArray<{ readonly kind: string; readonly command: readonly string[] }>;
    readonly objects: readonly BucketObject[];
    readonly outputs: readonly WalgOutput[];
  };
  /** SHA-256 of every file in the directory except manifest.json. */
  readonly files: Readonly<Record<string, string>>;
}

export function loadManifest(dir = VECTORS_DIR): Manifest {
  return JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
}

export function fixture(path: string, dir = VECTORS_DIR): Buffer {
  return readFileSync(join(dir, path));
}

/** The name PostgreSQL would ask for: the input's file name. */
export function walName(vector: WalVector): string {
  return vector.input.slice(vector.input.lastIndexOf("/") + 1);
}

/**
 * The wal-g settings that read a vector back (compression aside, which readers find by extension): its
 * encryption settings with the test keys resolved from the fixture directory.
 */
export function readSettings(vector: WalVector, dir = VECTORS_DIR): Record<string, string> {
  const e = vector.encryption;
  if (e === undefined) return {};
  const settings: Record<string, string> = {};
  if (e.type === "libsodium") {
    if (e.keyPath === undefined) settings["WALG_LIBSODIUM_KEY"] = e.key ?? "";
    else settings["WALG_LIBSODIUM_KEY_PATH"] = join(dir, e.keyPath);
    settings["WALG_LIBSODIUM_KEY_TRANSFORM"] = e.transform ?? "none";
    return settings;
  }
  if (e.keyPath === undefined) settings["WALG_PGP_KEY"] = readFileSync(join(dir, e.key ?? ""), "utf8");
  else settings["WALG_PGP_KEY_PATH"] = join(dir, e.keyPath);
  if (e.passphrase !== undefined) settings["WALG_PGP_KEY_PASSPHRASE"] = e.passphrase;
  return settings;
}

const GENERATED = "<generated>/";
let generated: Buffer | undefined;

/**
 * A vector's input: its fixture file, or for a default-size vector the segment the recipe regenerates (once per
 * process). Callers that depend on it being what wal-g was given check it against the manifest's SHA-256.
 */
export function inputOf(vector: WalVector, dir = VECTORS_DIR): Buffer {
  if (!vector.input.startsWith(GENERATED)) return fixture(vector.input, dir);
  const name = vector.input.slice(GENERATED.length);
  if (name !== DEFAULT_SEGMENT_NAME) throw new Error(`${vector.id}: no recipe generates ${name}`);
  generated ??= defaultSizeSegment();
  return generated;
}

export interface Lz4Block {
  /** The block's size field: its length in the frame, and whether it is stored uncompressed (the high bit). */
  readonly size: number;
  readonly stored: boolean;
  /** What the block decodes to on its own, with no earlier block as its window. */
  readonly content: Buffer;
}

/** An LZ4 frame's parts: its 7 header bytes, each block decoded on its own, the content checksum and what follows. */
export function lz4Blocks(frame: Buffer): { header: string; blocks: Lz4Block[]; checksum: string; contentChecksumOk: boolean; trailing: number } {
  const maxBlock = 4 * 1024 * 1024;
  const blocks: Lz4Block[] = [];
  let offset = 7;
  for (;;) {
    const word = frame.readUInt32LE(offset);
    offset += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    const stored = word >>> 31 === 1;
    const data = frame.subarray(offset, offset + size);
    let content: Buffer;
    if (stored) content = Buffer.from(data);
    else {
      const target = Buffer.alloc(maxBlock);
      content = target.subarray(0, decodeBlock(data, target, 0, 0));
    }
    blocks.push({ size, stored, content });
    offset += size;
  }
  const checksum = frame.subarray(offset, offset + 4);
  const whole = Buffer.concat(blocks.map((b) => b.content));
  return {
    header: frame.subarray(0, 7).toString("hex"),
    blocks,
    checksum: checksum.toString("hex"),
    contentChecksumOk: checksum.length === 4 && checksum.readUInt32LE(0) === xxh32(whole, 0) >>> 0,
    trailing: frame.length - offset - 4,
  };
}
