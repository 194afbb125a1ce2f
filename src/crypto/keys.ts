// Which client-side encryption wal-g would apply, read from wal-g's settings: the key material, checked when the
// configuration loads (a bad key is exit 78 before anything is read or written). The cipher code itself is
// loaded only when an object is encrypted or decrypted (crypter.ts).
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import type { Env } from "../env.js";

export type Encryption = LibsodiumEncryption | PgpEncryption;

export interface LibsodiumEncryption {
  readonly method: "libsodium";
  /** The 32-byte secretstream key, after WALG_LIBSODIUM_KEY_TRANSFORM. */
  readonly key: Buffer;
  /** The setting the key came from, for messages. */
  readonly setting: "WALG_LIBSODIUM_KEY" | "WALG_LIBSODIUM_KEY_PATH";
}

export interface PgpEncryption {
  readonly method: "pgp";
  /** One or more armored keys (public ones are enough to archive; restoring needs the private ones). */
  readonly armoredKeys: string;
  readonly passphrase: string | undefined;
  readonly setting: "WALG_PGP_KEY" | "WALG_PGP_KEY_PATH";
}

/** crypto_secretstream_xchacha20poly1305_KEYBYTES. */
export const LIBSODIUM_KEY_BYTES = 32;
/** wal-g refuses shorter keys under the "none" transform (internal/crypto/libsodium/crypter.go). */
const MINIMAL_KEY_LENGTH = 25;

export const KEY_TRANSFORMS = ["base64", "hex", "none"] as const;

/**
 * wal-g's order (internal/configure.go ConfigureCrypterForSpecificConfig): OpenPGP before libsodium; of each
 * method, the inline key before the key file. The methods wal-g ranks between them (envelope PGP, AWS and
 * Yandex KMS) are refused by the settings table (walg-settings.ts) before this runs.
 */
export function encryptionFrom(env: Env): Encryption | undefined {
  const pgpKey = env.WALG_PGP_KEY;
  const pgpKeyPath = env.WALG_PGP_KEY_PATH;
  if (pgpKey || pgpKeyPath) {
    return {
      method: "pgp",
      // wal-g lets the inline key carry its line breaks as the two characters \n (one line in an env file).
      armoredKeys: pgpKey ? pgpKey.replaceAll("\\n", "\n") : readKeyFile(pgpKeyPath!, "WALG_PGP_KEY_PATH"),
      passphrase: env.WALG_PGP_KEY_PASSPHRASE || undefined,
      setting: pgpKey ? "WALG_PGP_KEY" : "WALG_PGP_KEY_PATH",
    };
  }
  const inline = env.WALG_LIBSODIUM_KEY;
  const path = env.WALG_LIBSODIUM_KEY_PATH;
  if (!inline && !path) return undefined;
  const setting = inline ? "WALG_LIBSODIUM_KEY" : "WALG_LIBSODIUM_KEY_PATH";
  // The inline key is taken as it is; a key file loses surrounding white space (a trailing newline), as in wal-g.
  const text = inline ? inline : readKeyFile(path!, setting).trim();
  return { method: "libsodium", key: libsodiumKey(text, env.WALG_LIBSODIUM_KEY_TRANSFORM || "none", setting), setting };
}

/**
 * The key bytes as wal-g derives them (internal/crypto/libsodium/keytransform.go): "none" takes the text's bytes,
 * at least 25, cut or zero-padded to 32; "hex" and "base64" must decode to exactly 32 bytes.
 */
export function libsodiumKey(text: string, transform: string, setting: string): Buffer {
  let key: Buffer;
  switch (transform) {
    case "none": {
      const bytes = Buffer.from(text, "utf8");
      if (bytes.length < MINIMAL_KEY_LENGTH) {
        throw new ConfigError(setting, `the key is ${bytes.length} bytes long; wal-g requires at least ${MINIMAL_KEY_LENGTH}`, "use a longer key, or a 32-byte key in hex or base64 with WALG_LIBSODIUM_KEY_TRANSFORM");
      }
      key = Buffer.alloc(LIBSODIUM_KEY_BYTES);
      bytes.copy(key, 0, 0, Math.min(bytes.length, LIBSODIUM_KEY_BYTES));
      return key;
    }
    case "hex":
      if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) throw new ConfigError(setting, "the key is not valid hex (WALG_LIBSODIUM_KEY_TRANSFORM=hex)");
      key = Buffer.from(text, "hex");
      break;
    case "base64": {
      // Go's StdEncoding skips line breaks and otherwise wants the standard alphabet with its padding.
      const clean = text.replace(/[\r\n]/g, "");
      if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
        throw new ConfigError(setting, "the key is not valid base64 (WALG_LIBSODIUM_KEY_TRANSFORM=base64)");
      }
      key = Buffer.from(clean, "base64");
      break;
    }
    default:
      throw new ConfigError("WALG_LIBSODIUM_KEY_TRANSFORM", `unknown key transform '${transform}'`, `use one of ${KEY_TRANSFORMS.join(", ")}`);
  }
  if (key.length !== LIBSODIUM_KEY_BYTES) {
    throw new ConfigError(setting, `the key must be exactly ${LIBSODIUM_KEY_BYTES} bytes after WALG_LIBSODIUM_KEY_TRANSFORM=${transform} (got ${key.length})`);
  }
  return key;
}

function readKeyFile(path: string, setting: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(setting, `cannot read the key file '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
