// OpenPGP as wal-g uses it: encrypt to the public part of the key ring, decrypt with the private key unlocked by
// the passphrase. That wal-g reads these messages and we read its is proven against wal-g itself (e2e) and by
// the messages wal-g wrote (test/fixtures/walg-v3.0.9).
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import * as openpgp from "openpgp";
import { beforeAll, describe, expect, it } from "vitest";
import { type Crypter, DecryptionError, loadCrypter } from "../../../src/crypto/crypter.js";
import type { PgpEncryption } from "../../../src/crypto/keys.js";
import { ConfigError } from "../../../src/errors.js";

let locked: string;
let lockedPublic: string;
let other: string;

beforeAll(async () => {
  const pair = await openpgp.generateKey({ type: "curve25519", userIDs: [{ name: "archive" }], passphrase: "correct horse", format: "armored" });
  locked = pair.privateKey;
  lockedPublic = pair.publicKey;
  other = (await openpgp.generateKey({ type: "curve25519", userIDs: [{ name: "other" }], format: "armored" })).privateKey;
});

function crypterOf(armoredKeys: string, passphrase?: string): Promise<Crypter> {
  const encryption: PgpEncryption = { method: "pgp", armoredKeys, passphrase, setting: "WALG_PGP_KEY" };
  return loadCrypter(encryption);
}

async function failure(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("no error");
}

describe("OpenPGP crypter", () => {
  it("round-trips whole and streamed, and each form reads the other's", async () => {
    const crypter = await crypterOf(locked, "correct horse");
    const plain = randomBytes(300_000);
    const whole = await crypter.encrypt(plain);
    const streamed = await buffer(Readable.from([plain.subarray(0, 1000), plain.subarray(1000)]).pipe(crypter.encryptStream()));
    expect((await crypter.decrypt(whole, "X")).equals(plain)).toBe(true);
    expect((await crypter.decrypt(streamed, "X")).equals(plain)).toBe(true);
    expect((await buffer(Readable.from([whole]).pipe(crypter.decryptStream("X")))).equals(plain)).toBe(true);
  });

  it("writes a binary message a standard reader decrypts with the private key", async () => {
    const crypter = await crypterOf(lockedPublic);
    const sealed = await crypter.encrypt(Buffer.from("wal"));
    const privateKey = await openpgp.decryptKey({ privateKey: await openpgp.readPrivateKey({ armoredKey: locked }), passphrase: "correct horse" });
    const { data } = await openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: sealed }), decryptionKeys: privateKey, format: "binary" });
    expect(Buffer.from(data).toString()).toBe("wal");
  });

  it("archives with a public key alone; restoring needs the private key", async () => {
    const crypter = await crypterOf(lockedPublic);
    const sealed = await crypter.encrypt(Buffer.from("wal"));
    const error = await failure(() => crypter.decrypt(sealed, "X"));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^WALG_PGP_KEY: holds only public keys/);
  });

  it("needs the passphrase of a protected key, and the right one", async () => {
    const sealed = await (await crypterOf(lockedPublic)).encrypt(Buffer.from("wal"));
    const missing = await failure(async () => (await crypterOf(locked)).decrypt(sealed, "X"));
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as ConfigError).setting).toBe("WALG_PGP_KEY_PASSPHRASE");
    const wrong = await failure(async () => (await crypterOf(locked, "wrong")).decrypt(sealed, "X"));
    expect(wrong.message).toMatch(/^WALG_PGP_KEY_PASSPHRASE: does not unlock/);
  });

  it("refuses a message for another key, a damaged one and a plain object, whole and streamed", async () => {
    const crypter = await crypterOf(other);
    const foreign = await (await crypterOf(lockedPublic)).encrypt(randomBytes(1000));
    const own = await crypter.encrypt(randomBytes(100_000));
    const damaged = Buffer.from(own);
    damaged[damaged.length - 500]! ^= 1;
    const plain = Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x70, 0xb9]), randomBytes(2000)]);
    for (const [input, pattern] of [
      [foreign, /^cannot decrypt X with the key of WALG_PGP_KEY/],
      [damaged, /^cannot decrypt X with the key of WALG_PGP_KEY/],
      [plain, /^X is not encrypted \(it reads as a plain lz4 object\), but WALG_PGP_KEY is set$/],
    ] as const) {
      for (const run of [() => crypter.decrypt(input, "X"), () => buffer(Readable.from([input]).pipe(crypter.decryptStream("X")))]) {
        const error = await failure(run);
        expect(error).toBeInstanceOf(DecryptionError);
        expect(error.message).toMatch(pattern);
      }
    }
  });

  it("refuses a key that is not an armored OpenPGP key", async () => {
    const error = await failure(() => crypterOf("not a key"));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^WALG_PGP_KEY: not an armored OpenPGP key/);
  });
});
