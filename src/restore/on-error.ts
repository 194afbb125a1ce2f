// What wal-restore answers once storage has kept failing, and how long it retries first. It depends on the kind of
// recovery PostgreSQL runs, which its signal files in the data directory (restore_command's working directory) say:
// - a targeted recovery (recovery.signal) reads 1-125 as "not in the archive", ends recovery there and promotes, so
//   a storage failure must abort it (above 125) rather than fork a timeline early and leave WAL behind;
// - a standby (standby.signal) never promotes on a missing file: it goes on streaming from its primary and asks the
//   archive again later. An abort would shut it down instead (the postmaster stops the cluster when the startup
//   process exits FATAL), at the worst moment. So after a short retry it hears "not found", as from wal-g.
// WALNATIVE_RESTORE_ON_ERROR and WALNATIVE_RESTORE_RETRY_SECONDS (read once, in config.ts) override both.
import { existsSync } from "node:fs";
import { mkdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config.js";
import { ExitCode } from "../errors.js";
import { STATE_DIR } from "../fastpath/protocol.js";

export type RecoveryKind = "standby" | "targeted" | "unknown";

/** A targeted recovery waits this long for storage: an abort costs the DBA a restart, a wait costs nothing. */
export const TARGETED_RETRY_MS = 60_000;
/**
 * A standby waits this long: while restore_command runs, the startup process neither replays nor streams (it reads
 * one source at a time), and a standby restarted during an outage pays it for each file it asks for before it
 * falls back to streaming. Long enough for a store that restarts.
 */
export const STANDBY_RETRY_MS = 10_000;
/**
 * After a standby's call gave up on storage, the calls of the next this-long try storage once, without retrying:
 * a standby restarted during an outage asks the archive first for every segment it replays from its own pg_wal
 * (xlogrecovery.c tries the archive, then pg_wal, for each), and each would otherwise wait STANDBY_RETRY_MS.
 */
export const STANDBY_FAILURE_MEMORY_MS = 30_000;

export interface FailurePolicy {
  readonly kind: RecoveryKind;
  /** How long storage failures are retried before wal-restore gives up. */
  readonly retryMs: number;
  /** What it answers then: "not-found" (exit 1) or "abort" (exit above 125). */
  readonly answer: "not-found" | "abort";
  /** What decided the answer, for the log line. */
  readonly decidedBy: "WALNATIVE_RESTORE_ON_ERROR" | "standby.signal" | "recovery.signal" | "default";
}

/** standby.signal wins when both exist, as in PostgreSQL (xlogrecovery.c, readRecoverySignalFile). */
export function recoveryKindOf(files: { readonly standbySignal: boolean; readonly recoverySignal: boolean }): RecoveryKind {
  if (files.standbySignal) return "standby";
  return files.recoverySignal ? "targeted" : "unknown";
}

/** The kind of recovery running in this data directory (neither file: a call by hand, or not PostgreSQL's). */
export function recoveryKindAt(dataDir: string): RecoveryKind {
  return recoveryKindOf({
    standbySignal: existsSync(join(dataDir, "standby.signal")),
    recoverySignal: existsSync(join(dataDir, "recovery.signal")),
  });
}

/**
 * The settings win when set; else a standby hears "not found" after STANDBY_RETRY_MS (one attempt only while an
 * earlier call's give-up is recent, at `lastFailureAt`), and everything else aborts after TARGETED_RETRY_MS.
 * `settings` is undefined when the configuration could not be read at all.
 */
export function failurePolicy(
  kind: RecoveryKind,
  settings: Pick<Config, "restoreFailureMode" | "restoreRetryMs"> | undefined,
  lastFailureAt?: number,
  now: number = Date.now(),
): FailurePolicy {
  const standby = kind === "standby";
  const failedRecently = standby && lastFailureAt !== undefined && now - lastFailureAt < STANDBY_FAILURE_MEMORY_MS && now >= lastFailureAt;
  const retryMs = settings?.restoreRetryMs ?? (failedRecently ? 0 : standby ? STANDBY_RETRY_MS : TARGETED_RETRY_MS);
  if (settings?.restoreFailureMode) return { kind, retryMs, answer: settings.restoreFailureMode, decidedBy: "WALNATIVE_RESTORE_ON_ERROR" };
  if (standby) return { kind, retryMs, answer: "not-found", decidedBy: "standby.signal" };
  return { kind, retryMs, answer: "abort", decidedBy: kind === "targeted" ? "recovery.signal" : "default" };
}

/** 1 (wal-g's answer to an error; "not in the archive" to PostgreSQL) or 200 (PostgreSQL aborts recovery). */
export function failureExitCode(policy: FailurePolicy): number {
  return policy.answer === "not-found" ? ExitCode.internal : ExitCode.abortRecovery;
}

/**
 * The exit code and why, which wal-restore folds into its error line, so that the DBA sees in one line what went
 * wrong and why PostgreSQL goes on or stops.
 */
export function failureNote(policy: FailurePolicy): string {
  const code = failureExitCode(policy);
  if (policy.answer === "not-found") {
    if (policy.decidedBy === "standby.signal") {
      return `exit ${code}, standby.signal: "not in the archive" to PostgreSQL; the standby streams from its primary and asks again later`;
    }
    return `exit ${code}, WALNATIVE_RESTORE_ON_ERROR=not-found: "not in the archive" to PostgreSQL, which goes on without this file`;
  }
  const why = policy.decidedBy === "WALNATIVE_RESTORE_ON_ERROR" ? "WALNATIVE_RESTORE_ON_ERROR=abort" : policy.kind === "targeted" ? "recovery.signal" : "no standby.signal";
  return `exit ${code}, ${why}: PostgreSQL stops the recovery rather than end it early; fix the cause and start the server again`;
}

/** Where a standby's call notes that it gave up on storage (only wal-restore's Node side reads it). */
function failureMark(walDir: string): string {
  return join(walDir, STATE_DIR, "storage-failed");
}

/** When a call last gave up on storage in this pg_wal (ms since the epoch), if one did. */
export async function lastStorageFailure(walDir: string): Promise<number | undefined> {
  return stat(failureMark(walDir)).then((info) => info.mtimeMs, () => undefined);
}

export async function noteStorageFailure(walDir: string): Promise<void> {
  await mkdir(join(walDir, STATE_DIR), { recursive: true, mode: 0o700 });
  await writeFile(failureMark(walDir), "", { mode: 0o600 });
}

export async function clearStorageFailure(walDir: string): Promise<void> {
  await unlink(failureMark(walDir)).catch(() => undefined);
}
