import { describe, expect, it } from "vitest";
import { loadConfig, parseS3Prefix } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";

const base = { WALG_S3_PREFIX: "s3://bucket/path" };

describe("configuration", () => {
  it.each([
    ["s3://b", "b", ""],
    ["s3://b/", "b", ""],
    ["s3://b/a/b/", "b", "a/b/"],
    ["s3://b/a//c", "b", "a/c/"], // the request path wal-g's SDK sends (path.Clean), not walg-compat.md's "a//c/"
    ["s3://b/a/./x/../c/", "b", "a/c/"],
    ["s3://b/x/y", "b", "x/y/"],
  ])("parses %s like wal-g", (prefix, bucket, root) => {
    expect(parseS3Prefix(prefix)).toEqual({ bucket, root });
  });

  it("appends WALG_STORAGE_PREFIX as a sub-folder", () => {
    const config = loadConfig({ WALG_S3_PREFIX: "s3://b/a/", WALG_STORAGE_PREFIX: "x/" });
    expect(config.storage).toMatchObject({ kind: "s3", bucket: "b", root: "a/x/" });
  });

  it("strips file://localhost from WALG_FILE_PREFIX and requires the directory", () => {
    expect(loadConfig({ WALG_FILE_PREFIX: "file://localhost/tmp" }).storage).toEqual({ kind: "file", root: "/tmp" });
    expect(loadConfig({ WALG_FILE_PREFIX: "/tmp", WALG_STORAGE_PREFIX: "/x/" }).storage).toEqual({ kind: "file", root: "/tmp/x" });
    expect(() => loadConfig({ WALG_FILE_PREFIX: "/does/not/exist" })).toThrow(/WALG_FILE_PREFIX.*does not exist/);
  });

  it("prefers S3 over FILE, like wal-g's adapter order", () => {
    expect(loadConfig({ ...base, WALG_FILE_PREFIX: "/tmp" }).storage.kind).toBe("s3");
  });

  it("uses wal-g's defaults", () => {
    const config = loadConfig(base);
    expect(config.compression).toBe("lz4");
    expect(config.segmentSize).toBe(16 * 1024 * 1024);
    expect(config.storage).toMatchObject({ region: "us-east-1", storageClass: "STANDARD", forcePathStyle: false, checksumWhenRequired: true });
    expect(config.localArchiveDir).toBe("/var/lib/postgresql/wal_archive");
  });

  it("picks the S3 client from WALNATIVE_S3_CLIENT, auto by default", () => {
    expect(loadConfig(base).storage).toMatchObject({ client: "auto" });
    expect(loadConfig({ ...base, WALNATIVE_S3_CLIENT: "sdk" }).storage).toMatchObject({ client: "sdk" });
    expect(loadConfig({ ...base, WALNATIVE_S3_CLIENT: "lite" }).storage).toMatchObject({ client: "lite" });
  });

  it("reads S3 settings under K, WALG_K and WALE_K", () => {
    expect(loadConfig({ ...base, S3_SSE: "AES256" }).storage).toMatchObject({ sse: "AES256" });
    expect(loadConfig({ ...base, WALE_S3_STORAGE_CLASS: "STANDARD_IA" }).storage).toMatchObject({ storageClass: "STANDARD_IA" });
    expect(loadConfig({ ...base, AWS_ENDPOINT: "minio:9000" }).storage).toMatchObject({ endpoint: "https://minio:9000" });
  });

  it.each([
    [{ WALG_COMPRESSION_METHOD: "snappy" }, "WALG_COMPRESSION_METHOD"],
    [{ WALG_PG_WAL_SIZE: "24" }, "WALG_PG_WAL_SIZE"],
    [{ WALG_PG_WAL_SIZE: "abc" }, "WALG_PG_WAL_SIZE"],
    [{ WALG_S3_SSE: "aws:kms" }, "WALG_S3_SSE_KMS_ID"],
    [{ WALG_S3_SSE_KMS_ID: "key" }, "WALG_S3_SSE_KMS_ID"],
    [{ WALG_S3_SSE: "rot13" }, "WALG_S3_SSE"],
    [{ WALG_PREVENT_WAL_OVERWRITE: "maybe" }, "WALG_PREVENT_WAL_OVERWRITE"],
    [{ AWS_S3_FORCE_PATH_STYLE: "perhaps" }, "AWS_S3_FORCE_PATH_STYLE"],
    [{ WALG_S3_CA_CERT_FILE: "/nonexistent/ca.pem" }, "WALG_S3_CA_CERT_FILE"],
    [{ WALNATIVE_RESTORE_ON_ERROR: "ignore" }, "WALNATIVE_RESTORE_ON_ERROR"],
    [{ WALNATIVE_S3_CLIENT: "fast" }, "WALNATIVE_S3_CLIENT"],
  ])("names the setting in error %j", (extra, setting) => {
    const attempt = () => loadConfig({ ...base, ...extra });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(setting);
  });

  it("needs a storage", () => {
    expect(() => loadConfig({})).toThrow(/WALG_S3_PREFIX: no storage configured/);
    expect(() => loadConfig({ WALG_S3_PREFIX: "bucket-without-scheme" })).toThrow(/WALG_S3_PREFIX/);
    expect(() => loadConfig({ WALG_GS_PREFIX: "gs://x" })).toThrow(/WALG_GS_PREFIX.*not supported/);
  });

  describe("SSE-C (WALG_S3_SSE_C)", () => {
    const key = "0123456789abcdef0123456789abcdef";
    const tls = { ...base, AWS_ENDPOINT: "https://s3.example:9000", WALG_S3_SSE: "AES256" };

    it("takes the 32-byte customer key with WALG_S3_SSE=AES256, under any of wal-g's names", () => {
      expect(loadConfig({ ...tls, WALG_S3_SSE_C: key }).storage).toMatchObject({ sse: "AES256", sseCustomerKey: key });
      expect(loadConfig({ ...tls, S3_SSE_C: key }).storage).toMatchObject({ sseCustomerKey: key });
      expect(loadConfig(tls).storage).toMatchObject({ sseCustomerKey: undefined });
    });

    it.each([
      [{ ...base, WALG_S3_SSE_C: key }, /WALG_S3_SSE_C: needs WALG_S3_SSE=AES256/],
      [{ ...tls, WALG_S3_SSE: "aws:kms", WALG_S3_SSE_KMS_ID: "k", WALG_S3_SSE_C: key }, /WALG_S3_SSE_C: needs WALG_S3_SSE=AES256/],
      [{ ...tls, WALG_S3_SSE_C: "too short" }, /WALG_S3_SSE_C: the customer key must be 32 bytes .* not 9/],
      [{ ...tls, AWS_ENDPOINT: "http://minio:9000", WALG_S3_SSE_C: key }, /WALG_S3_SSE_C: S3 accepts customer keys over https only/],
    ])("refuses what S3 or wal-g would not use: %j", (env, message) => {
      expect(() => loadConfig(env)).toThrow(message);
    });
  });

  it("selects the encryption wal-g would (details in test/unit/crypto/keys.test.ts)", () => {
    expect(loadConfig(base).encryption).toBeUndefined();
    expect(loadConfig({ ...base, WALG_LIBSODIUM_KEY: "0".repeat(64), WALG_LIBSODIUM_KEY_TRANSFORM: "hex" }).encryption).toMatchObject({ method: "libsodium" });
    expect(() => loadConfig({ ...base, WALG_LIBSODIUM_KEY: "short" })).toThrow(/^WALG_LIBSODIUM_KEY: /);
  });

  it("configuration errors exit 78", () => {
    try {
      loadConfig({});
    } catch (error) {
      expect((error as ConfigError).exitCode).toBe(78);
      return;
    }
    throw new Error("loadConfig({}) did not throw");
  });
});
