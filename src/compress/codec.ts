// Codec interface and the registry keyed by wal-g's file extension (walg-compat.md 1.4, 2.7).
import type { Transform } from "node:stream";
import { ConfigError, ExitCode, WalNativeError } from "../errors.js";

export type CodecName = "lz4" | "brotli" | "zstd" | "lzma" | "gzip" | "none";

export interface Codec {
  readonly name: CodecName;
  /** Exactly as wal-g names objects: "lz4", "br", "zst", "lzma", "gz", "" (bare key). */
  readonly extension: string;
  /** False for formats wal-g only reads (gzip). */
  readonly canCompress: boolean;
  compress(): Transform;
  /**
   * The same format from one buffer at once, off the main thread where the library allows it: the
   * archive path holds a whole segment anyway, and streams cost more than the compression itself.
   */
  compressWhole?(data: Buffer): Promise<Buffer>;
  /** Must fail (emit an error) on truncated or corrupt input, never end quietly with partial output. */
  decompress(): Transform;
}

const EXTENSION_BY_NAME: Record<CodecName, string> = {
  lz4: "lz4",
  brotli: "br",
  zstd: "zst",
  lzma: "lzma",
  gzip: "gz",
  none: "",
};

/** The methods WALG_COMPRESSION_METHOD accepts (gzip is read-only in wal-g too). */
export const WRITABLE_CODECS: readonly CodecName[] = ["lz4", "brotli", "zstd", "lzma", "none"];

/**
 * wal-g's fetch order for an object of unknown compression (walg-compat.md 2.7): lz4, lzma, gz,
 * "" (tried as "name." like v3.0.8 wrote it), br, zst; then the bare name as uncompressed.
 */
export const FETCH_ORDER: readonly CodecName[] = ["lz4", "lzma", "gzip", "none", "brotli", "zstd"];

export function extensionOf(name: CodecName): string {
  return EXTENSION_BY_NAME[name];
}

/** Object key suffix: ".<ext>", or nothing for an uncompressed object (wal-g v3.0.9). */
export function keySuffix(name: CodecName): string {
  const extension = EXTENSION_BY_NAME[name];
  return extension === "" ? "" : `.${extension}`;
}

export function codecNameFromSetting(value: string, setting = "WALG_COMPRESSION_METHOD"): CodecName {
  const name = value.trim().toLowerCase();
  if ((WRITABLE_CODECS as readonly string[]).includes(name)) return name as CodecName;
  throw new ConfigError(setting, `unknown compression method '${value}'`, `use one of ${WRITABLE_CODECS.join(", ")}`);
}

/** Codec modules load lazily: a cache hit must not pay for native modules it does not use. */
export async function loadCodec(name: CodecName): Promise<Codec> {
  switch (name) {
    case "lz4":
      return withNativeModules("lz4", "lz4", async () => (await import("./lz4.js")).lz4Codec);
    case "brotli":
      return (await import("./brotli.js")).brotliCodec;
    case "zstd":
      return withNativeModules("zstd", "zstd-napi", async () => (await import("./zstd.js")).zstdCodec);
    case "lzma":
      return withNativeModules("lzma", "@napi-rs/lzma", async () => (await import("./lzma.js")).lzmaCodec);
    case "gzip":
      return (await import("./gzip.js")).gzipCodec;
    case "none":
      return (await import("./none.js")).noneCodec;
  }
}

/**
 * Native codec modules are built or unpacked by `npm ci`; an install without its scripts (or without a C++
 * compiler) lacks them. That is said plainly, as a configuration error (78; a restore aborts the recovery),
 * instead of as a module-resolution stack.
 */
export async function withNativeModules<T>(codec: string, pkg: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "MODULE_NOT_FOUND" && code !== "ERR_DLOPEN_FAILED") throw error;
    const reason = String((error as Error).message).split("\n")[0];
    throw new WalNativeError(`the ${codec} codec cannot load its native module (${reason})`, ExitCode.config, {
      hint: `reinstall with install scripts enabled and a C++ compiler present: npm ci, or npm rebuild ${pkg}`,
    });
  }
}
