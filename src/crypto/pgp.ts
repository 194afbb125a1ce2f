// wal-g's OpenPGP encryption (internal/crypto/openpgp/crypter.go): a binary OpenPGP message encrypted to every
// key in the armored key ring of WALG_PGP_KEY or WALG_PGP_KEY_PATH; a private key (unlocked with
// WALG_PGP_KEY_PASSPHRASE) decrypts. OpenPGP.js reads wal-g's messages (ProtonMail go-crypto) and wal-g reads
// OpenPGP.js's, both ways shown with RSA and Curve25519 keys of GnuPG and of OpenPGP.js.
import { Duplex, PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import * as openpgp from "openpgp";
import { ConfigError } from "../errors.js";
import { type Crypter, DecryptionError, plainFormatOf } from "./crypter.js";
import type { PgpEncryption } from "./keys.js";

export async function pgpCrypter(encryption: PgpEncryption): Promise<Crypter> {
  const { setting } = encryption;
  let keys: openpgp.Key[];
  try {
    keys = await openpgp.readKeys({ armoredKeys: encryption.armoredKeys });
  } catch (error) {
    throw new ConfigError(setting, `not an armored OpenPGP key: ${(error as Error).message}`);
  }
  const encryptionKeys = keys.map((key) => (key.isPrivate() ? key.toPublic() : key));
  let decryptionKeys: Promise<openpgp.PrivateKey[]> | undefined;
  // Unlocked on first decryption only: archiving needs just the public part, as in wal-g.
  const unlocked = () => (decryptionKeys ??= unlock(keys, encryption.passphrase, setting));

  return {
    method: "pgp",
    async encrypt(plain) {
      const message = await openpgp.createMessage({ binary: plain });
      return Buffer.from(await openpgp.encrypt({ message, encryptionKeys, format: "binary" }));
    },
    async decrypt(sealed, what) {
      const keysForDecryption = await unlocked();
      try {
        const message = await openpgp.readMessage({ binaryMessage: sealed });
        const { data } = await openpgp.decrypt({ message, decryptionKeys: keysForDecryption, format: "binary" });
        return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      } catch (error) {
        throw unreadable(what, setting, sealed, error);
      }
    },
    encryptStream() {
      return streamed(async (input) => {
        const message = await openpgp.createMessage({ binary: Readable.toWeb(input) as unknown as ReadableStream<Uint8Array> });
        return openpgp.encrypt({ message, encryptionKeys, format: "binary" });
      });
    },
    decryptStream(what) {
      let start: Buffer | undefined;
      return streamed(async (input) => {
        const keysForDecryption = await unlocked();
        input.once("data", (chunk: Buffer) => (start ??= chunk.subarray(0, 16)));
        try {
          const message = await openpgp.readMessage({ binaryMessage: Readable.toWeb(input) as unknown as ReadableStream<Uint8Array> });
          // Without allowUnauthenticatedStream (off), OpenPGP.js releases nothing before the integrity check passed.
          return (await openpgp.decrypt({ message, decryptionKeys: keysForDecryption, format: "binary" })).data;
        } catch (error) {
          throw unreadable(what, setting, start ?? Buffer.alloc(0), error);
        }
      }, (error) => (error instanceof DecryptionError || error instanceof ConfigError ? error : unreadable(what, setting, start ?? Buffer.alloc(0), error)));
    },
  };
}

async function unlock(keys: openpgp.Key[], passphrase: string | undefined, setting: string): Promise<openpgp.PrivateKey[]> {
  const privateKeys = keys.filter((key): key is openpgp.PrivateKey => key.isPrivate());
  if (privateKeys.length === 0) {
    throw new ConfigError(setting, "holds only public keys: restoring needs the private key", "archiving works with the public key; give the restoring host the private key");
  }
  return Promise.all(
    privateKeys.map(async (privateKey) => {
      if (privateKey.isDecrypted()) return privateKey;
      if (passphrase === undefined) throw new ConfigError("WALG_PGP_KEY_PASSPHRASE", `the private key in ${setting} is protected by a passphrase; set it`);
      try {
        return await openpgp.decryptKey({ privateKey, passphrase });
      } catch (error) {
        throw new ConfigError("WALG_PGP_KEY_PASSPHRASE", `does not unlock the private key in ${setting}: ${(error as Error).message}`);
      }
    }),
  );
}

function unreadable(what: string, setting: string, start: Buffer, error: unknown): DecryptionError {
  const plain = plainFormatOf(start);
  if (plain) return new DecryptionError(`${what} is not encrypted (it reads as ${plain}), but ${setting} is set`, setting);
  return new DecryptionError(`cannot decrypt ${what} with the key of ${setting}: ${(error as Error).message}`, setting);
}

/**
 * A stream stage around OpenPGP.js, which works on web streams: what is written goes in as one, what it
 * returns comes out. `fail` maps an error on the way to what the stage is destroyed with.
 */
function streamed(
  run: (input: Readable) => Promise<WebReadableStream<Uint8Array> | ReadableStream<Uint8Array> | Uint8Array>,
  fail: (error: unknown) => unknown = (error) => error,
): Duplex {
  const input = new PassThrough();
  const output = new PassThrough();
  const stage = Duplex.from({ writable: input, readable: output });
  run(input)
    .then((result) => {
      const source = result instanceof Uint8Array ? Readable.from([Buffer.from(result)]) : Readable.fromWeb(result as WebReadableStream<Uint8Array>);
      return pipeline(source, output);
    })
    .catch((error: unknown) => {
      const reason = fail(error) as Error;
      input.destroy(reason);
      output.destroy(reason);
      stage.destroy(reason);
    });
  return stage;
}
