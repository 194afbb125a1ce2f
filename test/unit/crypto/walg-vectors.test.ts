// Offline proof that we read wal-g's encrypted objects: every encrypted vector wal-g v3.0.9 wrote
// (test/fixtures/walg-v3.0.9), with the settings it was written with, decrypts and decompresses to its input;
// a wrong key is refused. Our own writer's objects are read back by the same decrypt-then-decompress path,
// and by wal-g itself in the live suites.
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { type CodecName, loadCodec } from "../../../src/compress/codec.js";
import { DecryptionError, loadCrypter } from "../../../src/crypto/crypter.js";
import { encryptionFrom } from "../../../src/crypto/keys.js";
import { fixture, loadManifest, readSettings } from "../../support/walg-vectors.js";

const manifest = loadManifest();
const encrypted = manifest.wal.filter((vector) => vector.encryption !== undefined);
const CODEC: Record<string, CodecName> = { lz4: "lz4", brotli: "brotli", zstd: "zstd", lzma: "lzma", none: "none" };

async function decode(method: string, data: Buffer): Promise<Buffer> {
  return buffer(Readable.from([data]).pipe((await loadCodec(CODEC[method]!)).decompress()));
}

describe("wal-g's encrypted vectors", () => {
  it("include libsodium and OpenPGP objects", () => {
    expect(encrypted.filter((vector) => vector.encryption!.type === "libsodium").length).toBeGreaterThan(5);
    expect(encrypted.filter((vector) => vector.encryption!.type === "pgp").length).toBeGreaterThan(3);
  });

  for (const vector of encrypted) {
    it(`${vector.id}: decrypted whole and streamed, then decompressed, it is the input`, async () => {
      const encryption = encryptionFrom(readSettings(vector));
      expect(encryption?.method).toBe(vector.encryption!.type === "pgp" ? "pgp" : "libsodium");
      const crypter = await loadCrypter(encryption!);
      const object = fixture(vector.object);
      const input = fixture(vector.input);
      expect((await decode(vector.method, await crypter.decrypt(object, vector.key))).equals(input)).toBe(true);
      const streamed = await buffer(Readable.from([object.subarray(0, 5000), object.subarray(5000)]).pipe(crypter.decryptStream(vector.key)));
      expect((await decode(vector.method, streamed)).equals(input)).toBe(true);
    });
  }

  it("refuse a libsodium key other than the one they were written with", async () => {
    const vector = encrypted.find((candidate) => candidate.encryption!.type === "libsodium" && candidate.encryption!.transform === "hex")!;
    const crypter = await loadCrypter(encryptionFrom({ WALG_LIBSODIUM_KEY: "f".repeat(64), WALG_LIBSODIUM_KEY_TRANSFORM: "hex" })!);
    await expect(crypter.decrypt(fixture(vector.object), vector.key)).rejects.toThrow(DecryptionError);
  });

  it("are written the way we write: same sizes for libsodium, compress then encrypt", async () => {
    for (const vector of encrypted.filter((candidate) => candidate.encryption!.type === "libsodium")) {
      const crypter = await loadCrypter(encryptionFrom(readSettings(vector))!);
      const compressed = await crypter.decrypt(fixture(vector.object), vector.key);
      expect(crypter.sealedSize!(compressed.length)).toBe(fixture(vector.object).length);
    }
  });
});
