// What wal-restore answers once storage keeps failing: by the kind of recovery (its signal files), unless the
// settings say otherwise; and the settings are read once, by config.ts, trimmed.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import {
  STANDBY_FAILURE_MEMORY_MS, STANDBY_RETRY_MS, TARGETED_RETRY_MS, clearStorageFailure, failureExitCode, failureNote, failurePolicy,
  lastStorageFailure, noteStorageFailure, recoveryKindAt, recoveryKindOf,
} from "../../../src/restore/on-error.js";

const unset = { restoreFailureMode: undefined, restoreRetryMs: undefined };
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe("the kind of recovery", () => {
  it.each([
    [{ standbySignal: true, recoverySignal: false }, "standby"],
    [{ standbySignal: true, recoverySignal: true }, "standby"], // PostgreSQL starts a standby when both exist
    [{ standbySignal: false, recoverySignal: true }, "targeted"],
    [{ standbySignal: false, recoverySignal: false }, "unknown"],
  ] as const)("%o is %s", (files, kind) => {
    expect(recoveryKindOf(files)).toBe(kind);
  });

  it("is read from the signal files in the data directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "on-error-"));
    dirs.push(dir);
    expect(recoveryKindAt(dir)).toBe("unknown");
    await writeFile(join(dir, "recovery.signal"), "");
    expect(recoveryKindAt(dir)).toBe("targeted");
    await writeFile(join(dir, "standby.signal"), "");
    expect(recoveryKindAt(dir)).toBe("standby");
  });
});

describe("the answer to a storage failure", () => {
  it("is 'not found' (1) on a standby after a short retry", () => {
    const policy = failurePolicy("standby", unset);
    expect(policy).toEqual({ kind: "standby", retryMs: STANDBY_RETRY_MS, answer: "not-found", decidedBy: "standby.signal" });
    expect(failureExitCode(policy)).toBe(1);
    expect(STANDBY_RETRY_MS).toBeLessThan(TARGETED_RETRY_MS);
  });

  it("tries storage once on a standby while an earlier call's give-up is recent", () => {
    const now = 1_000_000;
    expect(failurePolicy("standby", unset, now - 5_000, now).retryMs).toBe(0);
    expect(failurePolicy("standby", unset, now - STANDBY_FAILURE_MEMORY_MS, now).retryMs).toBe(STANDBY_RETRY_MS);
    expect(failurePolicy("standby", unset, now + 60_000, now).retryMs).toBe(STANDBY_RETRY_MS); // a clock that went back
    expect(failurePolicy("targeted", unset, now - 5_000, now).retryMs).toBe(TARGETED_RETRY_MS);
    expect(failurePolicy("standby", { restoreFailureMode: undefined, restoreRetryMs: 4000 }, now - 5_000, now).retryMs).toBe(4000);
  });

  it("remembers a standby's give-up in pg_wal/.wal-native until storage answers again", async () => {
    const walDir = await mkdtemp(join(tmpdir(), "on-error-wal-"));
    dirs.push(walDir);
    expect(await lastStorageFailure(walDir)).toBeUndefined();
    const before = Date.now();
    await noteStorageFailure(walDir);
    expect(await lastStorageFailure(walDir)).toBeGreaterThanOrEqual(before - 1000);
    await clearStorageFailure(walDir);
    expect(await lastStorageFailure(walDir)).toBeUndefined();
  });

  it.each(["targeted", "unknown"] as const)("aborts (200) a %s recovery after the long retry", (kind) => {
    const policy = failurePolicy(kind, unset);
    expect([policy.answer, policy.retryMs, failureExitCode(policy)]).toEqual(["abort", TARGETED_RETRY_MS, 200]);
  });

  it("follows WALNATIVE_RESTORE_ON_ERROR both ways, and WALNATIVE_RESTORE_RETRY_SECONDS", () => {
    expect(failureExitCode(failurePolicy("standby", { restoreFailureMode: "abort", restoreRetryMs: undefined }))).toBe(200);
    expect(failureExitCode(failurePolicy("targeted", { restoreFailureMode: "not-found", restoreRetryMs: undefined }))).toBe(1);
    expect(failurePolicy("standby", { restoreFailureMode: undefined, restoreRetryMs: 3000 }).retryMs).toBe(3000);
    expect(failurePolicy("targeted", { restoreFailureMode: undefined, restoreRetryMs: 0 }).retryMs).toBe(0);
  });

  it("decides by the signal files alone when the configuration could not be read", () => {
    expect(failureExitCode(failurePolicy("standby", undefined))).toBe(1);
    expect(failureExitCode(failurePolicy("targeted", undefined))).toBe(200);
  });

  it("says in the log why PostgreSQL goes on or stops", () => {
    expect(failureNote(failurePolicy("standby", unset))).toMatch(/^exit 1, standby\.signal: "not in the archive" to PostgreSQL; the standby streams/);
    expect(failureNote(failurePolicy("targeted", unset))).toMatch(/^exit 200, recovery\.signal: PostgreSQL stops the recovery/);
    expect(failureNote(failurePolicy("unknown", unset))).toMatch(/^exit 200, no standby\.signal: PostgreSQL stops the recovery/);
    expect(failureNote(failurePolicy("standby", { restoreFailureMode: "abort", restoreRetryMs: undefined }))).toMatch(/^exit 200, WALNATIVE_RESTORE_ON_ERROR=abort: /);
    expect(failureNote(failurePolicy("targeted", { restoreFailureMode: "not-found", restoreRetryMs: undefined }))).toMatch(/^exit 1, WALNATIVE_RESTORE_ON_ERROR=not-found: /);
  });
});

describe("the settings, read once by config.ts", () => {
  const base = { WALG_S3_PREFIX: "s3://bucket/path" };

  it.each([
    [{}, undefined],
    [{ WALNATIVE_RESTORE_ON_ERROR: "auto" }, undefined],
    [{ WALNATIVE_RESTORE_ON_ERROR: "abort" }, "abort"],
    [{ WALNATIVE_RESTORE_ON_ERROR: "not-found " }, "not-found"], // a trailing blank in a unit file must not flip it
    [{ WALNATIVE_RESTORE_ON_ERROR: " " }, undefined],
  ])("WALNATIVE_RESTORE_ON_ERROR %j", (env, mode) => {
    expect(loadConfig({ ...base, ...env }).restoreFailureMode).toBe(mode);
  });

  it("WALNATIVE_RESTORE_RETRY_SECONDS, undefined when not set", () => {
    expect(loadConfig(base).restoreRetryMs).toBeUndefined();
    expect(loadConfig({ ...base, WALNATIVE_RESTORE_RETRY_SECONDS: " 7 " }).restoreRetryMs).toBe(7000);
    expect(() => loadConfig({ ...base, WALNATIVE_RESTORE_RETRY_SECONDS: "-1" })).toThrow(/WALNATIVE_RESTORE_RETRY_SECONDS/);
  });
});
