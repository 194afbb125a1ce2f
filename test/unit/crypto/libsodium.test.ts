// wal-g's libsodium framing (walg-compat.md 3): sizes, round trips through the whole-buffer and the stream
// forms (which must agree chunk for chunk), and every way a ciphertext can be wrong, each with its own message.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import sodium from "sodium-native";
import { describe, expect, it } from "vitest";
import { DecryptionError } from "../../../src/crypto/crypter.js";
import { OpenStream, PLAIN_CHUNK, SealStream, open, seal, sealedSize } from "../../../src/crypto/libsodium.js";

const KEY = randomBytes(32);
const SETTING = "WALG_LIBSODIUM_KEY";

/** Feeds `data` in pieces of the given sizes (cycled), as a network body or a file stream would. */
function pieces(data: Buffer, sizes: number[]): Readable {
  const parts: Buffer[] = [];
  for (let at = 0, index = 0; at < data.length; index++) {
    const size = sizes[index % sizes.length]!;
    parts.push(data.subarray(at, at + size));
    at += size;
  }
  return Readable.from(parts);
}

const sealStream = (plain: Buffer, sizes = [65536]) => buffer(pieces(plain, sizes).pipe(new SealStream(KEY)));
const openStream = (sealed: Buffer, sizes = [65536]) => buffer(pieces(sealed, sizes).pipe(new OpenStream(KEY, "wal_005/X.lz4", SETTING)));

describe("libsodium framing (wal-g's writer.go)", () => {
  it.each([
    [0, 24 + 17],
    [1, 24 + 1 + 17],
    [8191, 24 + 8191 + 17],
    [8192, 24 + 8209 + 17], // a full chunk is MESSAGE; the FINAL chunk after it is empty
    [8193, 24 + 8209 + 1 + 17],
    [3 * 8192 + 5, 24 + 3 * 8209 + 5 + 17],
  ])("%i plaintext bytes make %i bytes", (plain, sealed) => {
    expect(sealedSize(plain)).toBe(sealed);
    expect(seal(KEY, randomBytes(plain)).length).toBe(sealed);
  });

  it.each([0, 1, 8191, 8192, 8193, 100_000, 1_000_000])("round-trips %i bytes whole and streamed, in any combination", async (size) => {
    const plain = randomBytes(size);
    const whole = seal(KEY, plain);
    const streamed = await sealStream(plain, [1, 8192, 7, 70_000]);
    expect(streamed.length).toBe(whole.length);
    expect(open(KEY, whole, "X", SETTING).equals(plain)).toBe(true);
    expect(open(KEY, streamed, "X", SETTING).equals(plain)).toBe(true);
    expect((await openStream(whole, [3, 8209, 10_000])).equals(plain)).toBe(true);
    expect((await openStream(streamed, [1, 9000])).equals(plain)).toBe(true);
  });

  it("starts a new random header for every object", () => {
    const plain = randomBytes(100);
    expect(seal(KEY, plain).subarray(0, 24).equals(seal(KEY, plain).subarray(0, 24))).toBe(false);
  });
});

describe("libsodium refuses anything but an intact ciphertext for its key", () => {
  const plain = randomBytes(5 * PLAIN_CHUNK + 100);
  const sealed = seal(KEY, plain);

  async function refusal(data: Buffer, key = KEY): Promise<string[]> {
    const messages: string[] = [];
    for (const attempt of [() => open(key, data, "X", SETTING), () => buffer(Readable.from([data]).pipe(new OpenStream(key, "X", SETTING)))]) {
      try {
        await attempt();
        messages.push("no error");
      } catch (error) {
        expect(error).toBeInstanceOf(DecryptionError);
        expect((error as DecryptionError).exitCode).toBe(65);
        messages.push((error as Error).message);
      }
    }
    return messages;
  }

  it("a wrong key", async () => {
    for (const message of await refusal(sealed, randomBytes(32))) expect(message).toMatch(/^cannot decrypt X with the key of WALG_LIBSODIUM_KEY: the key differs/);
  });

  it("a byte changed in the third chunk", async () => {
    const damaged = Buffer.from(sealed);
    damaged[24 + 2 * 8209 + 100]! ^= 1;
    for (const message of await refusal(damaged)) expect(message).toBe("X is damaged: its encrypted chunk 3 does not authenticate");
  });

  it("cut at a chunk boundary (wal-g would take it as complete)", async () => {
    for (const message of await refusal(sealed.subarray(0, 24 + 3 * 8209))) expect(message).toBe("X is truncated: its encrypted stream has no final chunk");
  });

  it("cut inside the last chunk's tag", async () => {
    for (const message of await refusal(sealed.subarray(0, 24 + 5 * 8209 + 10))) expect(message).toMatch(/^X is (truncated|damaged)/);
  });

  it("data after a final chunk", async () => {
    // Not something wal-g writes: a full-size chunk tagged FINAL with another chunk after it.
    const state = Buffer.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES);
    const crafted = Buffer.alloc(24 + 8209 + 27);
    sodium.crypto_secretstream_xchacha20poly1305_init_push(state, crafted.subarray(0, 24), KEY);
    sodium.crypto_secretstream_xchacha20poly1305_push(state, crafted.subarray(24, 24 + 8209), randomBytes(8192), null, 3);
    sodium.crypto_secretstream_xchacha20poly1305_push(state, crafted.subarray(24 + 8209), randomBytes(10), null, 3);
    for (const message of await refusal(crafted)) expect(message).toBe("X is damaged: data follows the end of its encrypted stream");
  });

  it("an object that was never encrypted", async () => {
    const lz4 = Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x70, 0xb9]), randomBytes(20_000)]);
    for (const message of await refusal(lz4)) expect(message).toBe("X is not encrypted (it reads as a plain lz4 object), but WALG_LIBSODIUM_KEY is set");
  });

  it("an object shorter than a header and a tag", async () => {
    for (const message of await refusal(Buffer.from("short"))) expect(message).toMatch(/^cannot decrypt X/);
  });
});
