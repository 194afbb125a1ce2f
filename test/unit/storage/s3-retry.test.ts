// The lite S3 client's retry decision (src/storage/s3-retry.ts) is a copy of the SDK standard mode's tables, so
// that both clients give up on the same failures. This holds the copy to the tables of the installed SDK: an SDK
// update that adds or drops a code fails here instead of making the two clients quietly differ.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { isRetryable } from "../../../src/storage/s3-retry.js";

const repo = join(import.meta.dirname, "..", "..", "..");
// Not exported by @smithy/core's package entry points; read from the installed file itself.
const smithyTables = (await import(
  pathToFileURL(join(repo, "node_modules/@smithy/core/dist-es/submodules/retry/service-error-classification/constants.js")).href
)) as Record<string, readonly (string | number)[]>;

const named = (name: string) => Object.assign(new Error("failed"), { name });
const withCode = (code: string) => Object.assign(new Error("failed"), { code });
const withStatus = (httpStatusCode: number) => Object.assign(new Error("failed"), { name: "Unknown", $metadata: { httpStatusCode } });

describe("the lite S3 client retries what the SDK's standard mode retries", () => {
  const names = [...(smithyTables.THROTTLING_ERROR_CODES ?? []), ...(smithyTables.TRANSIENT_ERROR_CODES ?? [])] as string[];
  const codes = [...(smithyTables.NODEJS_TIMEOUT_ERROR_CODES ?? []), ...(smithyTables.NODEJS_NETWORK_ERROR_CODES ?? [])] as string[];
  const statuses = [429, ...(smithyTables.TRANSIENT_ERROR_STATUS_CODES ?? [])] as number[];

  it("finds the SDK's tables", () => {
    expect(names.length).toBeGreaterThan(10);
    expect(codes.length).toBeGreaterThan(4);
    expect(statuses.length).toBeGreaterThan(3);
  });

  it.each(names)("error name %s", (name) => expect(isRetryable(named(name))).toBe(true));
  it.each(codes)("socket error %s", (code) => expect(isRetryable(withCode(code))).toBe(true));
  it.each(statuses)("HTTP status %i", (status) => expect(isRetryable(withStatus(status))).toBe(true));

  it("and nothing the SDK gives up on at once", () => {
    for (const error of [named("AccessDenied"), named("NoSuchKey"), named("InvalidAccessKeyId"), withStatus(400), withStatus(403), withStatus(404), withStatus(501), withCode("EACCES")]) {
      expect(isRetryable(error), `${error.name} ${JSON.stringify(error)}`).toBe(false);
    }
    expect(isRetryable(Object.assign(named("ThrottlingException"), { name: "AbortError" }))).toBe(false);
  });
});
