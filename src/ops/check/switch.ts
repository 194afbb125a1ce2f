// wal-native check --switch: the proof that archiving works end to end, as pgBackRest's check gives it.
// PostgreSQL is made to finish a segment now (a restore point, so that there is WAL to switch, then
// pg_switch_wal()); the segment must appear in the archive within the time allowed, and is then read
// back through restore_command's own path (find the object, decode, check header, size, the checksum
// recorded at archive time and the system identifier) and compared with pg_wal's copy when that is readable.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Config } from "../../config.js";
import { formatBytes } from "../../format.js";
import { digestLabel, recordedDigest } from "../../io/content-digest.js";
import { candidateKeys } from "../../wal/archive-keys.js";
import { parseWalFileName } from "../../wal/file-name.js";
import type { ObjectInfo, Storage } from "../../storage/storage.js";
import type { Query } from "../shared/pg.js";
import type { Finding } from "./finding.js";

export interface SwitchOptions {
  readonly timeoutMs: number;
  /** pg_wal's copy of the segment is compared with what was read back when this is known and readable. */
  readonly dataDir?: string;
}

export interface SwitchOutcome {
  readonly finding: Finding;
  readonly metrics: Record<string, number>;
  readonly segment?: string;
}

/** pg_stat_archiver as the wait sees it. */
export interface ArchiverState {
  readonly lastArchivedWal: string | null;
  readonly lastFailedWal: string | null;
  readonly failedCount: number;
}

/** PostgreSQL tries a failing archive_command three times in a row, then waits a minute before trying again. */
const FAILURES_BEFORE_GIVING_UP = 3;

export type WaitVerdict =
  | { readonly verdict: "archived" }
  | { readonly verdict: "wait" }
  | { readonly verdict: "failed"; readonly reason: string };

/** PostgreSQL has confirmed this segment (or a later one of the same timeline): archive_command exited 0 for it. */
export function archivedByPostgres(segment: string, state: ArchiverState): boolean {
  const last = /^[0-9A-F]{24}/.exec(state.lastArchivedWal ?? "")?.[0];
  return last !== undefined && last.slice(0, 8) === segment.slice(0, 8) && last >= segment;
}

/**
 * Archiving is proven once both hold: storage has the segment, and PostgreSQL has marked it archived (its
 * archive_command exited 0). Either alone is not enough: the background uploader may have stored the file while
 * PostgreSQL's own calls fail (after a change of the server's environment, say); and a command that exits 0 without
 * storing the file here (a wrong prefix, `true`) makes PostgreSQL mark it archived.
 */
export function waitVerdict(segment: string, state: ArchiverState, inStorage: boolean, failedAtSwitch: number, storageLabel: string): WaitVerdict {
  const confirmed = archivedByPostgres(segment, state);
  if (confirmed && inStorage) return { verdict: "archived" };
  if (confirmed) {
    return {
      verdict: "failed",
      reason: `PostgreSQL reports ${segment} archived, but ${storageLabel} does not hold it: archive_command writes somewhere else ` +
        "(compare WALG_S3_PREFIX / WALG_FILE_PREFIX in the server's environment with this one)",
    };
  }
  // PostgreSQL archives in order: a failing earlier file holds this one back as surely as its own failure.
  const failures = state.failedCount - failedAtSwitch;
  if (failures >= FAILURES_BEFORE_GIVING_UP) {
    const which = state.lastFailedWal === segment ? `for ${segment}` : `for ${state.lastFailedWal ?? "an earlier file"}, which PostgreSQL must archive before ${segment}`;
    const stored = inStorage ? ` (${segment} itself reached ${storageLabel}, uploaded ahead by the background uploader)` : "";
    return {
      verdict: "failed",
      reason: `archive_command failed ${failures} times since the switch, ${which}${stored}; the reason is in the server log and in wal-archive's log (WALNATIVE_ARCHIVE_LOG)`,
    };
  }
  return { verdict: "wait" };
}

/** Why the segment was not archived in time, from the last state seen. */
export function timeoutReason(segment: string, state: ArchiverState, inStorage: boolean, failedAtSwitch: number, seconds: number, storageLabel: string): string {
  const head = `${segment} was not archived within ${seconds} s of pg_switch_wal()`;
  if (state.failedCount > failedAtSwitch) {
    return `${head}: archive_command failed ${state.failedCount - failedAtSwitch} time(s) since, last for ${state.lastFailedWal}; see the server log and wal-archive's log`;
  }
  if (inStorage) return `${head}: it is in ${storageLabel}, but PostgreSQL's archive_command has not returned for it (hanging?)`;
  return `${head}: archive_command has neither succeeded nor failed for it yet (slow, hanging, or a backlog ahead of it: see the backlog line)`;
}

const ARCHIVER_STATE_SQL = "select last_archived_wal, last_failed_wal, failed_count from pg_stat_archiver";

function archiverState(row: Record<string, unknown> | undefined): ArchiverState {
  return {
    lastArchivedWal: (row?.last_archived_wal as string | null) ?? null,
    lastFailedWal: (row?.last_failed_wal as string | null) ?? null,
    failedCount: Number(row?.failed_count ?? 0),
  };
}

export async function proveArchiving(query: Query, storage: Storage, config: Config, options: SwitchOptions): Promise<SwitchOutcome> {
  const fail = (message: string, status: Finding["status"] = "critical", segment?: string): SwitchOutcome => ({
    finding: { check: "switch", status, message }, metrics: { switch_ok: 0 }, segment,
  });
  const [recovery] = await query("select pg_is_in_recovery() as in_recovery");
  if (recovery?.in_recovery === true) return fail("not attempted: this server is a standby, which cannot switch WAL; run check --switch on the primary", "warning");

  const failedAtSwitch = archiverState((await query(ARCHIVER_STATE_SQL))[0]).failedCount;
  let segment: string;
  let systemId: bigint | undefined;
  try {
    // Without WAL written since the last switch, pg_switch_wal() does nothing: the restore point is that WAL.
    await query("select pg_create_restore_point('wal-native check')");
    const [row] = await query("select pg_walfile_name(pg_switch_wal()) as segment");
    segment = String(row?.segment);
    systemId = await query("select system_identifier::text as id from pg_control_system()").then(
      (rows) => BigInt(String(rows[0]?.id)), () => undefined,
    );
  } catch (error) {
    const denied = (error as { code?: string }).code === "42501";
    return fail(denied
      ? `cannot switch WAL: ${(error as Error).message}; connect as a superuser (PGUSER) or GRANT EXECUTE ON FUNCTION pg_switch_wal(), pg_create_restore_point(text) to this user`
      : `cannot switch WAL: ${(error as Error).message}`);
  }
  const switched = performance.now();

  const keys = candidateKeys(segment).map((candidate) => candidate.key);
  let found: ObjectInfo | undefined;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    // PostgreSQL first: a segment it reports archived must then be in storage (wal-archive exits 0 only after that).
    const state = archiverState((await query(ARCHIVER_STATE_SQL))[0]);
    found ??= (await storage.statAll(keys))[0];
    const outcome = waitVerdict(segment, state, found !== undefined, failedAtSwitch, storage.label);
    if (outcome.verdict === "archived") break;
    if (outcome.verdict === "failed") return fail(outcome.reason, "critical", segment);
    if (performance.now() - switched > options.timeoutMs) {
      return fail(timeoutReason(segment, state, found !== undefined, failedAtSwitch, Math.round(options.timeoutMs / 1000), storage.label), "critical", segment);
    }
    await sleep(delay);
  }
  if (!found) return fail(`${segment} vanished from ${storage.label}`, "critical", segment);
  const archivedMs = performance.now() - switched;

  const readStarted = performance.now();
  let verified: string[];
  try {
    verified = await readBack(storage, found, segment, systemId, config, options.dataDir);
  } catch (error) {
    return fail(`${segment} is in ${storage.label} but does not read back as a valid WAL file: ${(error as Error).message}`, "critical", segment);
  }
  const readMs = performance.now() - readStarted;
  return {
    segment,
    finding: {
      check: "switch",
      status: "ok",
      message: `${segment} archived ${Math.round(archivedMs)} ms after pg_switch_wal(), read back and verified in ${Math.round(readMs)} ms (${verified.join("; ")})`,
    },
    metrics: { switch_ok: 1, switch_archive_seconds: archivedMs / 1000, switch_verify_seconds: readMs / 1000 },
  };
}

/** Decodes the object as restore_command would and says what was verified; throws what did not verify. */
async function readBack(storage: Storage, found: ObjectInfo, segment: string, systemId: bigint | undefined, config: Config, dataDir: string | undefined): Promise<string[]> {
  const { downloadVerified } = await import("../../restore/index.js");
  const scratch = await mkdtemp(join(tmpdir(), "wal-native-check-"));
  try {
    const copy = join(scratch, segment);
    const expect = { file: parseWalFileName(segment, 1024 * 1024), systemId };
    const bytes = await downloadVerified(storage, copy, expect, config.compression, { durable: false, encryption: config.encryption });
    const info = await storage.stat(found.key);
    const digest = recordedDigest(info?.metadata);
    const said = [
      `${found.key}, ${formatBytes(found.size)} for ${formatBytes(bytes)}`,
      digest
        ? `${digestLabel(digest.algorithm)} recorded at archive time matches`
        : config.encryption
          ? `decrypted with the ${config.encryption.method} key (its authentication checked)`
          : "no checksum recorded with the object (header and size checked)",
    ];
    const original = dataDir ? await readFile(join(dataDir, "pg_wal", segment)).catch(() => undefined) : undefined;
    if (original) {
      if (!original.equals(await readFile(copy))) throw new Error(`its content differs from ${join(dataDir ?? "", "pg_wal", segment)}`);
      said.push("identical to pg_wal's copy");
    }
    return said;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
