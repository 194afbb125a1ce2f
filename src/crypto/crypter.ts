// Client-side encryption of WAL objects as wal-g does it: compress, then encrypt on the way out; decrypt, then
// decompress on the way in (internal/compress_and_encrypt.go, internal/fetch_helper.go). Only WAL objects pass
// through here: wal-g never encrypts sentinels or metadata, and neither do we. The cipher modules load on first
// use, so a call without a key never parses them.
import type { Duplex } from "node:stream";
import { type CodecName, loadCodec } from "../compress/codec.js";
import { CorruptDataError, ExitCode, WalNativeError } from "../errors.js";
import type { Encryption } from "./keys.js";

export interface Crypter {
  readonly method: Encryption["method"];
  /** A whole (compressed) object in memory, encrypted. */
  encrypt(plain: Buffer): Promise<Buffer>;
  /** A whole encrypted object; anything but intact ciphertext for this key throws DecryptionError. */
  decrypt(sealed: Buffer, what: string): Promise<Buffer>;
  /** The same as a stream stage, for objects too large to hold whole. */
  encryptStream(): Duplex;
  decryptStream(what: string): Duplex;
  /** Bytes of the stored object for `plain` bytes, when the format tells it in advance (libsodium). */
  sealedSize?(plain: number): number;
}

/** Wrong key, damaged or truncated ciphertext, or an object that is not encrypted: the object is never used. */
export class DecryptionError extends CorruptDataError {
  constructor(message: string, setting: string) {
    super(message, { hint: `${setting} must hold the key the archive was written with (wal-g's setting of the same name); nothing was restored from this object` });
  }
}

const loaded = new Map<Encryption, Promise<Crypter>>();

export function loadCrypter(encryption: Encryption): Promise<Crypter> {
  let crypter = loaded.get(encryption);
  if (!crypter) {
    crypter = encryption.method === "libsodium" ? libsodiumCrypter(encryption.key, encryption.setting) : pgpCrypter(encryption);
    loaded.set(encryption, crypter);
  }
  return crypter;
}

async function libsodiumCrypter(key: Buffer, setting: string): Promise<Crypter> {
  const sodium = await loadNative(() => import("./libsodium.js"));
  return {
    method: "libsodium",
    encrypt: async (plain) => sodium.seal(key, plain),
    decrypt: async (sealed, what) => sodium.open(key, sealed, what, setting),
    encryptStream: () => new sodium.SealStream(key),
    decryptStream: (what) => new sodium.OpenStream(key, what, setting),
    sealedSize: sodium.sealedSize,
  };
}

async function pgpCrypter(encryption: Extract<Encryption, { method: "pgp" }>): Promise<Crypter> {
  return (await import("./pgp.js")).pgpCrypter(encryption);
}

/** sodium-native's prebuilt library missing or unloadable: a configuration problem (78), said plainly. */
async function loadNative<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "MODULE_NOT_FOUND" && code !== "ERR_DLOPEN_FAILED" && !/addon|\.node\b/i.test(String((error as Error).message))) throw error;
    throw new WalNativeError(`libsodium encryption cannot load sodium-native (${String((error as Error).message).split("\n")[0]})`, ExitCode.config, {
      hint: "reinstall the dependencies (npm ci); sodium-native ships libsodium prebuilt for linux-x64 and linux-arm64",
    });
  }
}

/**
 * What an object that fails to decrypt looks like when it is a plain one (archived before encryption was
 * switched on, or by a tool without the key): said in the message instead of "wrong key".
 */
export function plainFormatOf(start: Buffer): string | undefined {
  if (start.length >= 4 && start.readUInt32LE(0) === 0x184d2204) return "a plain lz4 object";
  if (start.length >= 4 && start.readUInt32LE(0) === 0xfd2fb528) return "a plain zstd object";
  if (start.length >= 5 && start[0] === 0x5d && start[1] === 0x00 && start[2] === 0x00) return "a plain lzma object";
  if (start.length >= 2 && start[0] === 0x1f && start[1] === 0x8b) return "a plain gzip object";
  // XLOG_PAGE_MAGIC values are 0xD1xx; info bits say a long header (XLP_LONG_HEADER, 0x0002) starts the segment.
  if (start.length >= 4 && start[1] === 0xd1 && (start.readUInt16LE(2) & 0x0002) !== 0) return "an uncompressed WAL segment";
  return undefined;
}

/**
 * The stages that turn a stored WAL object back into the file, in wal-g's order: decrypt (when a key is set),
 * then decompress. `what` names the object in messages.
 */
export async function decodingStages(codec: CodecName, encryption: Encryption | undefined, what: string): Promise<Duplex[]> {
  const decompress = (await loadCodec(codec)).decompress();
  return encryption ? [(await loadCrypter(encryption)).decryptStream(what), decompress] : [decompress];
}
