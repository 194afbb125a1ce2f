// Key settings as wal-g reads them (internal/crypto/libsodium/keytransform.go, internal/configure.go).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encryptionFrom, libsodiumKey } from "../../../src/crypto/keys.js";
import { ConfigError } from "../../../src/errors.js";

const HEX = "4c0829fdfe7ae1987918edc585b1a90556d901eaea963c7625bb5734576dfb59";

function refusal(run: () => unknown): { setting: string; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(78);
    return { setting: (error as ConfigError).setting, message: (error as Error).message };
  }
  throw new Error("no ConfigError");
}

describe("WALG_LIBSODIUM_KEY_TRANSFORM", () => {
  it("none: the text's bytes, zero-padded to 32 from at least 25, cut at 32", () => {
    expect(libsodiumKey("TEST_LIBSODIUM_KEY_______", "none", "K")).toEqual(Buffer.concat([Buffer.from("TEST_LIBSODIUM_KEY_______"), Buffer.alloc(7)]));
    expect(libsodiumKey("x".repeat(32), "none", "K")).toEqual(Buffer.from("x".repeat(32)));
    expect(libsodiumKey("y".repeat(40), "none", "K")).toEqual(Buffer.from("y".repeat(32)));
    // Bytes, not characters: 13 two-byte characters are 26 bytes.
    expect(libsodiumKey("é".repeat(13), "none", "K").subarray(0, 26)).toEqual(Buffer.from("é".repeat(13)));
    expect(refusal(() => libsodiumKey("short_key", "none", "WALG_LIBSODIUM_KEY")).message).toMatch(/^WALG_LIBSODIUM_KEY: the key is 9 bytes long; wal-g requires at least 25/);
  });

  it("hex: exactly 32 bytes", () => {
    expect(libsodiumKey(HEX, "hex", "K")).toEqual(Buffer.from(HEX, "hex"));
    expect(libsodiumKey(HEX.toUpperCase(), "hex", "K")).toEqual(Buffer.from(HEX, "hex"));
    expect(refusal(() => libsodiumKey("2e4af6d03c7f73f4a80b0594dee2b4bcd11300bafb8a", "hex", "K")).message).toMatch(/exactly 32 bytes .* \(got 22\)/);
    expect(refusal(() => libsodiumKey("invalid hex", "hex", "K")).message).toMatch(/not valid hex/);
    expect(refusal(() => libsodiumKey(`${HEX}0`, "hex", "K")).message).toMatch(/not valid hex/);
  });

  it("base64: the standard alphabet with padding, exactly 32 bytes", () => {
    expect(libsodiumKey("jv81yb3v3gNePrY0JmJ4q2j2NrqcM7tDYSHFoZ0tTIw=", "base64", "K")).toEqual(Buffer.from("jv81yb3v3gNePrY0JmJ4q2j2NrqcM7tDYSHFoZ0tTIw=", "base64"));
    expect(refusal(() => libsodiumKey("DBXYo+QaYKCLSNad+m27jl2UHtW4Htm9pStJv1ujjKPB2N5fmitOFw==", "base64", "K")).message).toMatch(/\(got 40\)/);
    expect(refusal(() => libsodiumKey("invalid base64", "base64", "K")).message).toMatch(/not valid base64/);
    expect(refusal(() => libsodiumKey("jv81yb3v3gNePrY0JmJ4q2j2NrqcM7tDYSHFoZ0tTIw", "base64", "K")).message).toMatch(/not valid base64/);
    expect(refusal(() => libsodiumKey("jv81yb3v3gNePrY0JmJ4q2j2NrqcM7tDYSHFoZ0t_Iw=", "base64", "K")).message).toMatch(/not valid base64/);
  });

  it("refuses an unknown transform by name", () => {
    expect(refusal(() => libsodiumKey(HEX, "HEX", "K"))).toMatchObject({ setting: "WALG_LIBSODIUM_KEY_TRANSFORM" });
  });
});

describe("which encryption the settings select", () => {
  const dir = mkdtempSync(join(tmpdir(), "wal-native-keys-"));

  it("none without keys", () => {
    expect(encryptionFrom({})).toBeUndefined();
    expect(encryptionFrom({ WALG_LIBSODIUM_KEY: "" })).toBeUndefined();
  });

  it("libsodium from the inline key, taken as it is; from a key file, trimmed", () => {
    const inline = encryptionFrom({ WALG_LIBSODIUM_KEY: ` ${HEX}`, WALG_LIBSODIUM_KEY_TRANSFORM: "none" });
    expect(inline).toMatchObject({ method: "libsodium", setting: "WALG_LIBSODIUM_KEY", key: Buffer.from(` ${HEX}`.slice(0, 32)) });
    const file = join(dir, "key");
    writeFileSync(file, `${HEX}\n`);
    expect(encryptionFrom({ WALG_LIBSODIUM_KEY_PATH: file, WALG_LIBSODIUM_KEY_TRANSFORM: "hex" })).toMatchObject({
      method: "libsodium",
      setting: "WALG_LIBSODIUM_KEY_PATH",
      key: Buffer.from(HEX, "hex"),
    });
  });

  it("the inline key before the key file, as wal-g", () => {
    expect(encryptionFrom({ WALG_LIBSODIUM_KEY: HEX, WALG_LIBSODIUM_KEY_PATH: "/nonexistent", WALG_LIBSODIUM_KEY_TRANSFORM: "hex" })).toMatchObject({ setting: "WALG_LIBSODIUM_KEY" });
  });

  it("an unreadable key file is a configuration error naming the setting", () => {
    expect(refusal(() => encryptionFrom({ WALG_LIBSODIUM_KEY_PATH: join(dir, "missing") }))).toMatchObject({ setting: "WALG_LIBSODIUM_KEY_PATH" });
    expect(refusal(() => encryptionFrom({ WALG_PGP_KEY_PATH: join(dir, "missing") }))).toMatchObject({ setting: "WALG_PGP_KEY_PATH" });
  });

  it("OpenPGP before libsodium, as wal-g; \\n in the inline key are line breaks", () => {
    const pgp = encryptionFrom({ WALG_PGP_KEY: "-----BEGIN PGP PUBLIC KEY BLOCK-----\\n\\nabc\\n", WALG_PGP_KEY_PASSPHRASE: "pass", WALG_LIBSODIUM_KEY: HEX });
    expect(pgp).toEqual({ method: "pgp", armoredKeys: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n", passphrase: "pass", setting: "WALG_PGP_KEY" });
  });
});
