// The settings a record of a file uploaded ahead was made under are written by the TypeScript and compared by
// bin/wal-archive in sh: both must build the same string from the same environment, or records would never be
// served (or, worse, served after the compression or encryption changed). Both come from src/fastpath/protocol.ts;
// the expression is the one scripts/build.mjs renders into the launcher.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { settingsFingerprint, shConstants } from "../../../src/fastpath/protocol.js";

const expression = shConstants("/node").FINGERPRINT as string;

function fromSh(env: Record<string, string>): string {
  return execFileSync("sh", ["-c", `printf '%s' "${expression}"`], { env: { PATH: "/usr/bin:/bin", ...env } }).toString();
}

describe("the record's settings, in sh and in TypeScript", () => {
  it("are what bin/wal-archive compares", () => {
    expect(expression).toMatch(/WALG_COMPRESSION_METHOD/);
    expect(readFileSync(new URL("../../../bin/wal-archive", import.meta.url), "utf8")).toContain(`$identity ${expression}"`);
  });

  it.each<Record<string, string>>([
    {},
    { WALG_S3_PREFIX: "s3://bucket/path", AWS_ENDPOINT: "http://127.0.0.1:9000", WALG_COMPRESSION_METHOD: "brotli" },
    { WALE_S3_PREFIX: "s3://b", WALG_STORAGE_PREFIX: "x" },
    { WALG_FILE_PREFIX: "/srv/archive", WALG_LIBSODIUM_KEY: "secret key of at least 25 bytes", WALG_LIBSODIUM_KEY_TRANSFORM: "none" },
    { WALG_FILE_PREFIX: "/srv/archive", WALG_LIBSODIUM_KEY_PATH: "/etc/walg/key", WALG_LIBSODIUM_KEY_TRANSFORM: "hex" },
    { WALG_FILE_PREFIX: "/srv/archive", WALG_PGP_KEY: "-----BEGIN PGP PUBLIC KEY BLOCK-----\\n...", WALG_PGP_KEY_PATH: "" },
    { WALG_FILE_PREFIX: "/srv/archive", WALG_PGP_KEY_PATH: "/etc/walg/key.asc", WALG_S3_SSE_C: "k".repeat(32) },
    { WALG_S3_PREFIX: "s3://b", S3_SSE_C: "k".repeat(32), WALE_S3_SSE_C: "", WALG_LIBSODIUM_KEY: "" },
  ])("agree for %j", (env) => {
    expect(fromSh(env)).toBe(settingsFingerprint(env));
  });

  it("name whether a key is set, never the key", () => {
    const env = { WALG_LIBSODIUM_KEY: "secret key of at least 25 bytes", WALG_PGP_KEY: "armored", WALG_PGP_KEY_PASSPHRASE: "pass", WALG_S3_SSE_C: "k".repeat(32) };
    const fingerprint = settingsFingerprint(env);
    for (const secret of Object.values(env)) expect(fingerprint).not.toContain(secret);
  });

  it("change when encryption is switched on, off or to another method", () => {
    const plain = settingsFingerprint({ WALG_FILE_PREFIX: "/a" });
    const sodium = settingsFingerprint({ WALG_FILE_PREFIX: "/a", WALG_LIBSODIUM_KEY: "k".repeat(32) });
    const pgp = settingsFingerprint({ WALG_FILE_PREFIX: "/a", WALG_PGP_KEY_PATH: "/k.asc" });
    expect(new Set([plain, sodium, pgp]).size).toBe(3);
  });
});
